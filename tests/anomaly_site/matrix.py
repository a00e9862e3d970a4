"""The machinery of the authorization matrix (test_authorization_matrix.py): the routes of the URL configuration, the
callers, the world of the test organisation behind every route, and the categories an answer falls into.

An answer is one category: `ok` (2xx, or a redirect anywhere but a login page), `login` (a redirect to a login page
asking to come back: the caller must log in first), `gone` (the admin's "does not exist" redirect to its index),
`invalid` (an admin form posted and shown again: the change refused), `204`, or the status code (`401`, `403`, `404`,
`405`, `429`, `503`...). A caller who is no one of the test organisation (STRANGERS) must not read anything of it in
a 2xx answer: its body is searched for the world's markers, and `leak:<marker>` is the answer when one is found.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import pandas as pd
import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from accounts.services import ANALYST, partner_token_create, partner_token_revoke
from alerts.models import Alert, AlertDelivery, AuditEvent, PendingEvaluation
from detection.jobs.chunks import media_path
from detection.jobs.services import upload_source
from detection.models import BacktestRun, ModelVersion, ScoringJob, ScoringJobChunk
from detection.scoring import registry
from detection.staging.services import SESSION_KEY as STAGED_KEY
from detection.staging.services import staged_upload_create
from monitoring.models import DriftMeasurement, DriftReference
from review.models import Case, CaseAttachment
from rules.models import RuleTest
from rules.policy.services import rule_create, rule_edit, rule_publish
from tests.conftest import work_in
from tests.factories import (
    AlertRuleFactory,
    BacktestRunFactory,
    ListEntryFactory,
    ReviewItemFactory,
    RiskPolicyFactory,
    ScoreFactory,
    TransactionFactory,
    ValueListFactory,
)
from transactions.models import LabelEvent, LabelSource

OK, LOGIN, GONE, EMPTY, INVALID = "ok", "login", "gone", "204", "invalid"
ACCEPT, REFUSE = "accept", "refuse"

# Every caller, in the order a row is read. A lead answers as the analyst wherever a row names the analyst and not
# the lead (`_answers`): a lead is an analyst who also assigns work; rows name it where it differs (another's job).
CALLERS = (
    "anonymous",
    "outsider",  # logged in, member of the test organisation, in no group
    "viewer",
    "analyst",
    "lead",  # the lead role: an analyst who assigns items and cases
    "admin",  # a superuser, working in the test organisation
    "score_token",  # partner tokens of the test organisation with exactly one scope each
    "label_token",
    "read_token",
    "revoked_token",  # a token of the test organisation with every scope, revoked
    "other_analyst",  # an analyst of another organisation
    "other_admin",  # a staff admin (not a superuser) of another organisation
    "other_token",  # a partner token of another organisation with every scope
)
PEOPLE = ("outsider", "viewer", "analyst", "lead", "admin", "other_analyst", "other_admin")
TOKENS = ("score_token", "label_token", "read_token", "revoked_token", "other_token")
# Callers who may read nothing of the test organisation: their `ok` answers are searched for its markers.
STRANGERS = ("anonymous", "revoked_token", "other_analyst", "other_admin", "other_token")
# Callers come from elsewhere: /metrics' answer to a scraper on the same machine is tested in
# tests/detection/scoring/test_metrics.py.
REMOTE_ADDR = "203.0.113.7"


# ---------------------------------------------------------------- the routes


def http_routes() -> dict[str, str]:
    """Every HTTP route: its namespaced URL name (`<pattern>` for a route without a name) → its full pattern."""
    found: dict[str, str] = {}

    def walk(resolver, prefix: str, namespace: str) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(part for part in (namespace, entry.namespace) if part)
                walk(entry, prefix + str(entry.pattern), inner)
                continue
            pattern = prefix + str(entry.pattern)
            name = entry.name or f"<{pattern}>"
            name = f"{namespace}:{name}" if namespace else name
            if name in found:
                raise AssertionError(f"two routes are named {name!r}: {found[name]} and {pattern}")
            found[name] = pattern

    walk(get_resolver(), "", "")
    return found


def websocket_routes() -> list[str]:
    """Every websocket route of anomaly_site/routing.py, by its path pattern ("/ws/jobs/<int:job_id>/")."""
    from anomaly_site.routing import websocket_urlpatterns

    return ["/" + str(entry.pattern) for entry in websocket_urlpatterns]


def admin_models() -> list[str]:
    """The label of every model registered with the admin ("accounts.organisation")."""
    return sorted(model._meta.label_lower for model in admin.site._registry)


# ---------------------------------------------------------------- the table's vocabulary


Body = Callable[["World"], dict] | dict | None


@dataclass(frozen=True)
class Try:
    """One request, made by every caller, and what each must get. `holes` names the callers for whom the code
    answers what the product's rules say it must not (the expected answer stays the right one; the test xfails,
    naming the hole, and fails once the hole is closed so that its mark goes)."""

    method: str
    answers: dict[str, str]
    body: Body = None
    as_json: bool = False
    holes: dict[str, str] = field(default_factory=dict)
    leak_check: bool = True


@dataclass(frozen=True)
class Row:
    tries: tuple[Try, ...]
    kwargs: Callable[["World"], dict] | None = None


def row(*tries: Try, kwargs: Callable[["World"], dict] | None = None) -> Row:
    return Row(tries=tries, kwargs=kwargs)


def _answers(base: dict, named: dict) -> dict[str, str]:
    unknown = set(named) - set(CALLERS)
    if unknown:
        raise ValueError(f"no such caller: {sorted(unknown)}")
    if "analyst" in named and "lead" not in named:
        named = {**named, "lead": named["analyst"]}
    return {caller: str(answer) for caller, answer in (base | named).items()}


def page(method: str = "GET", *, people=OK, body: Body = None, holes=None, leak_check=True, **named) -> Try:
    """A page: anonymous callers are sent to log in, and so are tokens (a token is not a session); the people answer
    `people` unless named."""
    base = dict.fromkeys(("anonymous", *TOKENS), LOGIN) | dict.fromkeys(PEOPLE, people)
    return Try(method, _answers(base, named), body=body, holes=holes or {}, leak_check=leak_check)


def api(
    method: str = "GET", *, others=403, body: Body = None, multipart=False, holes=None, leak_check=True, **named
) -> Try:
    """An API endpoint: no credentials and the revoked token get 401; every other caller `others` unless named. A
    body is sent as JSON, or as a multipart form."""
    base = dict.fromkeys(CALLERS, others) | {"anonymous": 401, "revoked_token": 401}
    return Try(
        method, _answers(base, named), body=body, as_json=not multipart, holes=holes or {}, leak_check=leak_check
    )


def anyone(method: str = "GET", *, answer=OK, body: Body = None, holes=None, **named) -> Try:
    """A route that answers every caller alike."""
    return Try(method, _answers(dict.fromkeys(CALLERS, answer), named), body=body, holes=holes or {})


def socket(**named) -> dict[str, str]:
    """A websocket: refused to every caller unless named."""
    return _answers(dict.fromkeys(CALLERS, REFUSE), named)


# ---------------------------------------------------------------- the world


@dataclass
class World:
    """One object of the test organisation behind every route that takes one, and the callers' credentials."""

    organisation: object
    other_organisation: object
    users: dict  # caller → user, for the people
    secrets: dict  # caller → bearer secret, for the tokens
    transaction: object  # the partner's (the tokens' source), scored, flagged
    review_item: object  # its review item, open
    case: object  # the item's case, open, with an attachment
    attachment: object  # the case's attachment
    link_merchant: str  # the merchant of another open item, not in the case: what a link finds
    job: ScoringJob  # the analyst's, from the upload pages, finished
    partner_job: ScoringJob  # the score token's, through the API, finished
    run: BacktestRun  # the analyst's, finished
    rule: object  # a rule: version 1 in force, version 2 a draft
    rule_test: object  # a finished test on history of the rule's draft
    value_list: object  # a list with one entry
    staged: object  # a file the analyst staged, in the analyst's session only
    admin_objects: dict  # model label → an object of the test organisation's (or of its people's), for the admin
    markers: tuple[str, ...]  # text found only in the test organisation's data

    def client(self, caller: str) -> Client:
        """A fresh client of the caller: logged in for people, with its bearer token for tokens."""
        headers = {"Authorization": f"Bearer {self.secrets[caller]}"} if caller in self.secrets else None
        client = Client(raise_request_exception=False, headers=headers, REMOTE_ADDR=REMOTE_ADDR)
        user = self.users.get(caller)
        if user is not None:
            client.force_login(user)
            if caller == "admin":  # a superuser may work in every organisation: this one works in the test one
                work_in(client, self.organisation)
            if caller == "analyst":
                session = client.session
                session[STAGED_KEY] = [asdict(self.staged)]
                session.save()
        return client

    def leaked(self, content: bytes) -> str | None:
        text = content.decode(errors="replace")
        return next((marker for marker in self.markers if marker in text), None)


MAPPING = {"transaction_id": "transaction_id", "timestamp": "timestamp", "account_id": "user_id", "amount": "amount"}
CSV_ROWS = b"transaction_id,timestamp,user_id,amount\nm-1,2026-03-11 10:00:00,acct-001,12.50\n"


def csv_file() -> SimpleUploadedFile:
    """A fresh small CSV of the columns MAPPING names (a file is read once; every request needs its own)."""
    return SimpleUploadedFile("rows.csv", CSV_ROWS, content_type="text/csv")


def _finished_job(*, source, transaction_id: str, name: str, **fields) -> ScoringJob:
    job = ScoringJob.objects.create(
        source=source,
        file_path=f"jobs/{name}/upload.csv",
        file_format="csv",
        original_name=f"{name}.csv",
        mapping=MAPPING,
        status=ScoringJob.Status.DONE,
        phase=ScoringJob.Phase.SCORING,
        total_rows=1,
        stored_rows=1,
        processed_rows=1,
        created_rows=1,
        chunk_count=1,
        finished_at=timezone.now(),
        **fields,
    )
    chunk_path = f"jobs/{name}/chunk-0.parquet"
    media_path(chunk_path).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"transaction_id": [transaction_id]}).to_parquet(media_path(chunk_path), index=False)
    ScoringJobChunk.objects.create(
        job=job, index=0, first_row=1, row_count=1, file_path=chunk_path, status=ScoringJobChunk.Status.DONE
    )
    return job


def build_world(*, organisation, other_organisation, people: dict, other_token_secret: str, trained: dict) -> World:
    """The test organisation's objects (behind every route that takes an id), its tokens, and the callers."""
    tokens = {
        f"{scope}_token": partner_token_create(name="acme-bank", scopes=[scope], organisation=organisation)
        for scope in ("score", "label", "read")
    }
    revoked, revoked_secret = partner_token_create(
        name="acme-bank", scopes=["score", "label", "read"], organisation=organisation
    )
    partner_token_revoke(token=revoked)
    secrets = {name: secret for name, (_, secret) in tokens.items()}
    secrets |= {"revoked_token": revoked_secret, "other_token": other_token_secret}
    source = tokens["read_token"][0].source

    registry.active_model_changed()
    version = ModelVersion.objects.create(
        organisation=organisation, version=7, status=ModelVersion.Status.ACTIVE, **trained
    )
    registry.active_model_changed()
    tx = TransactionFactory(
        source=source, transaction_id="matrix-secret-tx", account_id="matrix-secret-acct", merchant_id="matrix-merch"
    )
    score = ScoreFactory(transaction=tx, model_version=version)
    case = Case.objects.create(organisation=organisation, account_id=tx.account_id)
    item = ReviewItemFactory(score=score, case=case)
    (media_path(f"cases/{case.pk}/matrix")).mkdir(parents=True, exist_ok=True)
    media_path(f"cases/{case.pk}/matrix/note.txt").write_text("matrix-secret-attachment")
    attachment = CaseAttachment.objects.create(
        case=case, file_path=f"cases/{case.pk}/matrix/note.txt", original_name="matrix-secret-note.txt", size=24
    )
    linked_tx = TransactionFactory(source=source, account_id="matrix-secret-acct-2", merchant_id="matrix-link-merch")
    ReviewItemFactory(score=ScoreFactory(transaction=linked_tx, model_version=version))
    uploads = upload_source(organisation=organisation)
    upload_tx = TransactionFactory(source=uploads, transaction_id="matrix-secret-upload-tx")
    ScoreFactory(transaction=upload_tx, model_version=version)
    job = _finished_job(
        source=uploads,
        transaction_id=upload_tx.transaction_id,
        name="matrix-secret-upload",
        created_by=people["analyst"],
    )
    partner_job = _finished_job(
        source=source, transaction_id=tx.transaction_id, name="matrix-secret-partner", token=tokens["score_token"][0]
    )
    run = BacktestRunFactory(
        organisation=organisation,
        created_by=people["analyst"],
        original_name="matrix-secret-backtest.csv",
        status=BacktestRun.Status.DONE,
        result={"models": {"ensemble": {"roc_auc": 0.9, "average_precision": 0.5}}, "per_day": []},
        finished_at=timezone.now(),
    )
    staged = staged_upload_create(session={}, upload=csv_file())
    policy = _rule_world(organisation, people["admin"])
    value_list = ValueListFactory(organisation=organisation, name="matrix_secret_list", kind="account")
    entry = ListEntryFactory(value_list=value_list, value="matrix-secret-entry")
    rule = AlertRuleFactory(organisation=organisation, name="matrix-secret-rule")
    alert = Alert.objects.create(rule=rule, transaction=tx, score=score)
    delivery = AlertDelivery.objects.create(
        rule=rule, channel=rule.channel, destination=rule.destination, scheduled_for=timezone.now()
    )
    delivery.alerts.add(alert)
    DriftReference.objects.create(
        organisation=organisation, version=version, feature="matrix_secret_feature", edges=[1.0], shares=[0.5, 0.5]
    )
    DriftMeasurement.objects.create(
        organisation=organisation,
        version=version,
        day=timezone.now().date(),
        feature="matrix_secret_feature",
        psi=0.3,
        shares=[0.2, 0.8],
        rows=60,
    )
    label = LabelEvent.objects.create(
        transaction=tx, label=1, source=LabelSource.REPORTED, created_at=timezone.now() - timedelta(minutes=1)
    )
    attempt = {"username": "alice", "ip_address": "198.51.100.4", "user_agent": "matrix", "http_accept": "*/*"}
    admin_objects = {
        "auth.group": Group.objects.get(name=ANALYST),
        "auth.user": people["analyst"],
        "axes.accessattempt": AccessAttempt.objects.create(
            **attempt, path_info="/accounts/login/", failures_since_start=1
        ),
        "axes.accesslog": AccessLog.objects.create(**attempt, path_info="/accounts/login/"),
        "axes.accessfailurelog": AccessFailureLog.objects.create(**attempt, path_info="/accounts/login/"),
        "accounts.organisation": organisation,
        "accounts.partnertoken": tokens["read_token"][0],
        "transactions.source": source,
        "transactions.transaction": tx,
        "transactions.labelevent": label,
        "detection.modelversion": version,
        "detection.score": score,
        "detection.riskpolicy": RiskPolicyFactory(organisation=organisation, comment="matrix-secret-policy"),
        "detection.scoringjob": job,
        "detection.backtestrun": run,
        "alerts.alertrule": rule,
        "alerts.alert": alert,
        "alerts.alertdelivery": delivery,
        "alerts.auditevent": AuditEvent.objects.filter(organisation=organisation).earliest("id"),
        "alerts.pendingevaluation": PendingEvaluation.objects.create(score_ids=[score.pk], organisation=organisation),
        "rules.rule": policy["rule"],
        "rules.ruleversion": policy["draft"],
        "rules.ruletest": policy["test"],
        "rules.valuelist": value_list,
        "rules.listentry": entry,
    }
    markers = (
        organisation.name,
        tx.transaction_id,
        tx.account_id,
        upload_tx.transaction_id,
        "matrix-secret",
        "matrix_secret",  # rules' names (lower case, underscores)
        "acme-bank",
        people["analyst"].email,
        f'"{people["analyst"].username}"',  # as JSON (the admin's people picker) and in HTML text
        f">{people['analyst'].username}<",
    )
    return World(
        organisation=organisation,
        other_organisation=other_organisation,
        users=people,
        secrets=secrets,
        transaction=tx,
        review_item=item,
        case=case,
        attachment=attachment,
        link_merchant="matrix-link-merch",
        job=job,
        partner_job=partner_job,
        run=run,
        rule=policy["rule"],
        rule_test=policy["test"],
        value_list=value_list,
        staged=staged,
        admin_objects=admin_objects,
        markers=markers,
    )


def _rule_world(organisation, author) -> dict:
    """A rule of the test organisation: version 1 in force, version 2 a draft with a finished test on history."""
    first = rule_create(
        organisation_id=organisation.pk,
        name="matrix_secret_rule",
        expression="amount > 500",
        action="review",
        user=author,
    )
    rule_publish(rule=first.rule, user=author, untested=True)
    draft = rule_edit(rule=first.rule, expression="amount > 900", action="block", user=author)
    test = RuleTest.objects.create(
        rule_version=draft,
        days=7,
        status=RuleTest.Status.DONE,
        report={
            "rows": 1,
            "hits": 1,
            "hit_rate": 1.0,
            "fraud": 1,
            "legitimate": 0,
            "unlabelled": 0,
            "precision": 1.0,
            "missing": 0,
            "model": {"review_threshold": 0.95, "flagged": 1, "overlap": 1},
            "rules": [],
            "per_day": [{"day": "2026-03-21", "hits": 1, "fraud": 1, "legitimate": 0, "rows": 1}],
            "sample": [],
            "seconds": 0.01,
            "rows_per_minute": 6000,
        },
        finished_at=timezone.now(),
    )
    return {"rule": first.rule, "draft": draft, "test": test}


# ---------------------------------------------------------------- asking and judging


LOGIN_PAGES = ("/accounts/login/", "/admin/login/")


def category(response, path: str, method: str = "GET") -> str:
    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response["Location"])
        if target.path in LOGIN_PAGES and "next=" in target.query:
            return LOGIN
        if path.startswith("/admin/") and target.path == "/admin/" and path != "/admin/":
            return GONE
        return OK
    if status == 204:
        return EMPTY
    if status == 200 and method == "POST" and path.startswith("/admin/"):
        return INVALID  # the admin saves with a redirect; its form again means the form refused the change
    return OK if 200 <= status < 300 else str(status)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def ask(world: World, caller: str, attempt: Try, url: str) -> tuple[str, str]:
    """The caller's answer to one request, made in a savepoint rolled back afterwards (callers do not see each other's
    writes); and a detail for the failure message."""
    body = attempt.body(world) if callable(attempt.body) else attempt.body
    with transaction.atomic():
        client = world.client(caller)
        if attempt.method == "GET":
            response = client.get(url, body or {})
        elif attempt.as_json:
            response = client.generic(attempt.method, url, json.dumps(body or {}), content_type="application/json")
        else:
            response = client.post(url, body or {})
        answer = category(response, url, attempt.method)
        content = body_of(response)
        transaction.set_rollback(True)
    detail = f"{response.status_code} {response.get('Location', '')}".strip()
    if getattr(response, "exc_info", None):
        detail += f" {response.exc_info[1]!r}"
    elif response.status_code >= 400:
        detail += f" {content[:300].decode(errors='replace')}"
    if response.status_code < 300 and caller in STRANGERS and attempt.leak_check:
        marker = world.leaked(content)
        if marker is not None:
            return f"leak:{marker}", detail
    return answer, detail


@dataclass
class Verdict:
    """What one route's callers got: the unexpected answers, the holes seen, and the holes declared but not seen."""

    wrong: list[str] = field(default_factory=list)
    holes: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)

    def judge(self, label: str, caller: str, expected: str, got: str, detail: str, hole: str | None) -> None:
        if hole is None:
            if got != expected:
                self.wrong.append(f"{label} as {caller}: expected {expected}, got {got} ({detail})")
        elif got == expected:
            self.closed.append(f"{label} as {caller}: the hole '{hole}' is closed; remove its mark")
        else:
            self.holes.append(f"{label} as {caller}: {got} instead of {expected}: {hole}")

    def conclude(self) -> None:
        problems = self.wrong + self.closed
        if problems:
            pytest.fail("\n".join(problems + [f"(known hole) {hole}" for hole in self.holes]), pytrace=False)
        if self.holes:
            pytest.xfail("; ".join(self.holes))
