"""The authorization matrix (issue #22): every route of the URL configuration and every websocket route, asked by
every caller (matrix.CALLERS: anonymous, a member of no group, viewer, analyst, a superuser, a token of each scope, a
revoked token, an analyst, a staff admin and a token of another organisation; a lead), with the
answer each must get. A route without a row fails test_every_route_has_a_row_and_every_row_a_route, as does a row
whose route has gone; the admin's routes (admin:*) answer by one rule, ADMIN_RULE, sampled on every registered
model.

How to read a row: `page(...)` is a page (anonymous callers and tokens are sent to log in, the people answer `people`
unless named); `api(...)` an API endpoint (anonymous callers and the revoked token get 401, every other caller
`others` unless named); `anyone(...)` answers all alike. Answers: `ok` (2xx, or a redirect anywhere but a login
page), `login` (sent to log in), `gone` (the admin's "does not exist"), `invalid` (an admin form refused), `204`, or
the status code. A caller of another organisation (or none) must find nothing of the test organisation in a 2xx
answer (else `leak:<marker>`).

Product rules the expectations follow: a person of another organisation, and a token of another organisation, get
404 for the test organisation's objects; a revoked token 401; tokens on pages are not sessions; sessions on API
endpoints need the view's `required_user_permission`; writes through the API need a partner token (403 for people).
Where the code answers otherwise, the try names the hole in `holes`: the test xfails naming it, and fails once the
hole is closed, so that the mark goes.
"""

import json
from dataclasses import replace

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from anomaly_site.asgi import application
from detection.scoring import registry
from tests.anomaly_site import matrix
from tests.anomaly_site.matrix import (
    ACCEPT,
    CALLERS,
    GONE,
    INVALID,
    LOGIN,
    OK,
    REFUSE,
    Verdict,
    anyone,
    api,
    ask,
    csv_file,
    page,
    row,
    socket,
)
from tests.detection.conftest import trained_model  # noqa: F401 - the session's trained model, for the score API

# ---------------------------------------------------------------- bodies


def case(world) -> dict:
    return {"pk": world.case.pk}


def attachment_upload(world) -> dict:
    return {"file": SimpleUploadedFile("evidence.txt", b"seen at the shop", content_type="text/plain")}


# Writing to a case: those who may decide, on their own organisation's case.
CASE_WRITERS = {"people": 404, "outsider": 403, "viewer": 403, "analyst": OK, "admin": OK}

SCORE = {"transaction_id": "matrix-new-1", "timestamp": "2026-03-21 14:30:00", "account_id": "acct-1", "amount": "12.5"}
THRESHOLDS = {"review_threshold": "0.8", "medium": "0.5", "high": "0.8", "critical": "0.95", "comment": "matrix"}


def labels(world) -> dict:
    return {"labels": [{"transaction_id": world.transaction.transaction_id, "label": "fraud"}]}


def job_upload(world) -> dict:
    return {"file": csv_file(), "mapping": json.dumps(matrix.MAPPING)}


def page_upload(world) -> dict:
    return {"file": csv_file()}


def item(world) -> dict:
    return {"pk": world.review_item.pk}


def staged(world) -> dict:
    return {"key": world.staged.key}


def job(world) -> dict:
    return {"pk": world.job.pk}


# A POST-only page asked with GET: 405 for the people (anonymous callers and tokens are sent to log in first).
GET_405 = page("GET", people=405)
# Who may upload, score files and run backtests: analysts and admins, in their own organisation.
UPLOADERS = {"outsider": 403, "viewer": 403}
# An object only its author and those who may see every one may open: 404 for anyone else who may upload.
AUTHOR_ONLY = {"people": 404, **UPLOADERS, "lead": 404}

RULE = {"name": "matrix_new_rule", "expression": "amount > 5", "action": "review"}
# Writing and publishing rules: admins (who hold rules.add_ruleversion and rules.publish), on their own organisation's.
RULE_EDITORS = {"people": 403, "admin": OK, "other_analyst": 404, "other_admin": 404}


def rule(world) -> dict:
    return {"rule_id": world.rule.pk}


NEW_LIST = {"name": "matrix_new_list", "kind": "account"}
# Changing lists: admins (and holders of rules.publish), on their own organisation's lists.
LIST_EDITORS = {"people": 403, "admin": OK, "other_admin": 404}


def value_list(world) -> dict:
    return {"name": world.value_list.name}


def list_upload(world) -> dict:
    return {"file": SimpleUploadedFile("entries.csv", b"value\nacct-new\n", content_type="text/csv")}


TRIAL = {"account_id": "matrix-secret-acct", "amount": "12.50", "channel": "online", "timestamp": "2026-03-21T14:30"}


def drift_feature(world) -> dict:
    return {"feature": "matrix_secret_feature"}


def version(world) -> dict:
    return {"pk": world.admin_objects["detection.modelversion"].pk}


def ACTIVATE(world) -> dict:  # noqa: N802 - a body, named as the others
    return {"compared_with": world.admin_objects["detection.modelversion"].pk}


EXPECTED = {
    # ------------------------------------------------------------ the site
    "home": row(page()),  # a redirect to the queue, for everyone logged in
    "healthz": row(anyone()),  # a probe: counts organisations, names none
    "metrics": row(anyone(answer=403)),  # from a remote address without METRICS_TOKEN
    # A wrong password (each try in its own savepoint: no lockout builds up); the form shows the username sent again.
    "login": row(anyone(), anyone("POST", body={"username": "mallory", "password": "wrong"})),
    "logout": row(page("POST"), GET_405),
    "password_change": row(page(), page("POST", body={})),
    "password_change_done": row(page()),
    "organisation_switch": row(
        page("POST", body=lambda w: {"organisation": w.organisation.pk}, other_analyst=404, other_admin=404), GET_405
    ),
    # ------------------------------------------------------------ the API
    "api-schema": row(api(others=OK, anonymous=OK)),  # public, as docs are; a revoked token is refused as everywhere
    "api-docs": row(api(others=OK, anonymous=OK)),
    # Another organisation's token scores in its own organisation, which has no active model: 503, never a score by
    # the test organisation's model.
    "api-transaction-score": row(api("POST", body=SCORE, score_token=OK, other_token=503)),
    "api-transaction-score-batch": row(api("POST", body={"transactions": [SCORE]}, score_token=OK, other_token=503)),
    "api-transaction-list": row(api(others=OK, score_token=403, label_token=403, outsider=403)),
    "api-transaction-detail": row(
        api(
            read_token=OK,
            viewer=OK,
            analyst=OK,
            admin=OK,
            other_analyst=404,
            other_admin=404,
            other_token=404,
        ),
        kwargs=lambda w: {"transaction_id": w.transaction.transaction_id},
    ),
    "api-transaction-label": row(
        api("POST", body={"label": "fraud"}, label_token=OK, other_token=404),
        kwargs=lambda w: {"transaction_id": w.transaction.transaction_id},
    ),
    # Another organisation's token is told the id it sent is unknown to it: its own words, not a leak.
    "api-label-bulk": row(api("POST", body=labels, label_token=OK, other_token=OK, leak_check=False)),
    "api-job-create": row(
        api(
            "POST",
            body=job_upload,
            multipart=True,
            **dict.fromkeys(("score_token", "analyst", "admin", "other_analyst", "other_admin", "other_token"), OK),
        )
    ),
    # The score token's job: its token's source reads it (the read token shares that source), and so do those who
    # may see every job (the superuser); an analyst who did not start it does not.
    "api-job-detail": row(
        api(read_token=OK, admin=OK, analyst=404, other_analyst=404, other_admin=404, other_token=404),
        kwargs=lambda w: {"job_id": w.partner_job.pk},
    ),
    "api-job-result": row(
        api(read_token=OK, admin=OK, analyst=404, other_analyst=404, other_admin=404, other_token=404),
        kwargs=lambda w: {"job_id": w.partner_job.pk},
    ),
    # Rules: the `rules` scope (no token of the matrix holds it); people by permission, in their own organisation
    # (another organisation's admin writes in its own, and gets 404 for the test organisation's rule).
    "api-rule-list": row(
        api(viewer=OK, analyst=OK, admin=OK, other_analyst=OK, other_admin=OK),
        api("POST", body=RULE, admin=OK, other_admin=OK),
    ),
    # Lists: the `lists` scope (no token of the matrix holds it); people read by permission, in their own
    # organisation, and change lists on the pages (a write through the API needs a token: 403).
    "api-list-list": row(
        api(viewer=OK, analyst=OK, admin=OK, other_analyst=OK, other_admin=OK), api("POST", body=NEW_LIST)
    ),
    "api-list-entries": row(
        api(viewer=OK, analyst=OK, admin=OK, other_analyst=404, other_admin=404),
        api("POST", body={"values": ["acct-9"]}),
        api("DELETE", body={"values": ["matrix-secret-entry"]}),
        kwargs=value_list,
    ),
    "api-rule-activate": row(api("POST", admin=OK, other_admin=404), kwargs=rule),
    "api-rule-disable": row(api("POST", admin=OK, other_admin=404), kwargs=rule),
    # ------------------------------------------------------------ detection pages
    "detection:performance": row(page(outsider=403)),
    "detection:threshold_explore": row(page(outsider=403, body=THRESHOLDS)),
    "detection:threshold_save": row(page("POST", body=THRESHOLDS, people=403, admin=OK, other_admin=OK), GET_405),
    "detection:uploads": row(page(**UPLOADERS), page("POST", body=page_upload, **UPLOADERS)),
    # A staged file is its person's session's: the analyst who staged it maps it; nobody else finds it.
    "detection:upload_map": row(
        page(**AUTHOR_ONLY, analyst=OK), page("POST", **AUTHOR_ONLY, analyst=OK), kwargs=staged
    ),
    "detection:upload_job": row(page(**AUTHOR_ONLY, analyst=OK, admin=OK), kwargs=job),
    "detection:upload_job_progress": row(page(**AUTHOR_ONLY, analyst=OK, admin=OK), kwargs=job),
    "detection:upload_job_result": row(page(**AUTHOR_ONLY, analyst=OK, admin=OK), kwargs=job),
    "detection:upload_job_analysis": row(page(**AUTHOR_ONLY, analyst=OK, admin=OK), kwargs=job),
    "detection:upload_job_analysis_csv": row(page(**AUTHOR_ONLY, analyst=OK, admin=OK), kwargs=job),
    # Trying a transaction stores nothing: anyone who reads scores and transactions, in their own organisation (the
    # account typed is looked for there only: another organisation's people are told it is not stored).
    "detection:try": row(
        page(outsider=403), page("POST", body=TRIAL, outsider=403, other_analyst=400, other_admin=400)
    ),
    "detection:try_accounts": row(page(outsider=403)),
    # Comparing a version: those who read versions; activating it: those who may change them (admins), both in the
    # version's organisation (the world's version is the active one: activating it again changes nothing).
    "detection:version_compare": row(page(outsider=403, other_analyst=404, other_admin=404), kwargs=version),
    "detection:version_activate": row(
        page("POST", body=ACTIVATE, people=403, admin=OK, other_admin=404), GET_405, kwargs=version
    ),
    # Making a version the challenger, ending its challenge, promoting it: admins, in the version's organisation (the
    # world's version is the active one: each is refused in words, on the page it sends back to).
    "detection:version_challenge": row(page("POST", people=403, admin=OK, other_admin=404), GET_405, kwargs=version),
    "detection:version_challenge_end": row(
        page("POST", people=403, admin=OK, other_admin=404), GET_405, kwargs=version
    ),
    "detection:version_promote": row(page("POST", people=403, admin=OK, other_admin=404), GET_405, kwargs=version),
    "detection:backtests": row(page(**UPLOADERS), page("POST", body=page_upload, **UPLOADERS)),
    "detection:backtest_setup": row(
        page(**AUTHOR_ONLY, analyst=OK), page("POST", **AUTHOR_ONLY, analyst=OK), kwargs=staged
    ),
    "detection:backtest": row(page(**AUTHOR_ONLY, analyst=OK, admin=OK), kwargs=lambda w: {"pk": w.run.pk}),
    # ------------------------------------------------------------ rules
    "rules:index": row(page(outsider=403)),
    "rules:new": row(
        page(people=403, admin=OK, other_admin=OK), page("POST", body=RULE, people=403, admin=OK, other_admin=OK)
    ),
    "rules:check": row(page(people=403, admin=OK, other_admin=OK, body={"expression": "amount > 5"})),
    "rules:detail": row(page(outsider=403, other_analyst=404, other_admin=404), kwargs=rule),
    "rules:edit": row(
        page(**RULE_EDITORS),
        page("POST", body={"expression": "amount > 7", "action": "tag"}, **RULE_EDITORS),
        kwargs=rule,
    ),
    "rules:publish": row(page("POST", **RULE_EDITORS), GET_405, kwargs=rule),
    "rules:disable": row(page("POST", **RULE_EDITORS), GET_405, kwargs=rule),
    "rules:test_start": row(page("POST", body={"days": "7"}, **RULE_EDITORS), GET_405, kwargs=rule),
    "rules:test": row(
        page(outsider=403, other_analyst=404, other_admin=404), kwargs=lambda w: {"test_id": w.rule_test.pk}
    ),
    # ------------------------------------------------------------ lists
    "rules:list_index": row(page(outsider=403)),
    "rules:list_new": row(
        page(people=403, admin=OK, other_admin=OK), page("POST", body=NEW_LIST, people=403, admin=OK, other_admin=OK)
    ),
    "rules:list_detail": row(page(outsider=403, other_analyst=404, other_admin=404), kwargs=value_list),
    "rules:list_download": row(page(outsider=403, other_analyst=404, other_admin=404), kwargs=value_list),
    "rules:list_entries_add": row(page("POST", body={"values": "acct-9"}, **LIST_EDITORS), GET_405, kwargs=value_list),
    "rules:list_entry_remove": row(
        page("POST", body={"value": "matrix-secret-entry"}, **LIST_EDITORS), GET_405, kwargs=value_list
    ),
    "rules:list_upload": row(page("POST", body=list_upload, **LIST_EDITORS), GET_405, kwargs=value_list),
    "rules:list_delete": row(page("POST", **LIST_EDITORS), GET_405, kwargs=value_list),
    # ------------------------------------------------------------ review
    "review:queue": row(page(outsider=403)),
    "review:claim_next": row(page("POST", outsider=403, viewer=403), GET_405),
    "review:claim": row(page("POST", people=404, outsider=403, viewer=403, analyst=OK, admin=OK), GET_405, kwargs=item),
    "review:release": row(
        page("POST", people=404, outsider=403, viewer=403, analyst=OK, admin=OK), GET_405, kwargs=item
    ),
    "review:decide": row(
        page("POST", body={"decision": "fraud"}, people=404, outsider=403, viewer=403, analyst=OK, admin=OK),
        GET_405,
        kwargs=item,
    ),
    "review:note": row(
        page("POST", body={"note": "checked"}, people=404, outsider=403, viewer=403, analyst=OK, admin=OK),
        GET_405,
        kwargs=item,
    ),
    # The transaction page's access helper answers 404 to anyone who may not see it, the outsider included.
    "review:transaction": row(
        page(outsider=404, other_analyst=404, other_admin=404), kwargs=lambda w: {"pk": w.transaction.pk}
    ),
    # ------------------------------------------------------------ search
    # Searches the caller's own organisation: another organisation's people find nothing of the test one.
    "search:search": row(page(outsider=403)),
    # An upload's own view of its flagged rows: another organisation's upload (and a partner's job) is not found.
    "review:upload": row(page(outsider=403, other_analyst=404, other_admin=404), kwargs=lambda w: {"job_id": w.job.pk}),
    "review:upload_close": row(
        page("POST", people=404, outsider=403, viewer=403, analyst=OK, admin=OK),
        GET_405,
        kwargs=lambda w: {"job_id": w.job.pk},
    ),
    # ------------------------------------------------------------ cases, assignment and bulk actions
    "review:cases": row(page(outsider=403)),
    "review:case": row(page(outsider=404, other_analyst=404, other_admin=404), kwargs=case),
    "review:case_note": row(page("POST", body={"text": "checked"}, **CASE_WRITERS), GET_405, kwargs=case),
    "review:case_attach": row(page("POST", body=attachment_upload, **CASE_WRITERS), GET_405, kwargs=case),
    "review:case_attachment": row(
        page(outsider=404, other_analyst=404, other_admin=404),
        kwargs=lambda w: {"pk": w.case.pk, "attachment_pk": w.attachment.pk},
    ),
    "review:case_link": row(
        page("POST", body=lambda w: {"by": "merchant", "value": w.link_merchant}, **CASE_WRITERS), GET_405, kwargs=case
    ),
    "review:case_decide": row(
        page("POST", body={"decision": "fraud", "scope": "all"}, **CASE_WRITERS), GET_405, kwargs=case
    ),
    # The confirmation of a bulk action counts only the caller's organisation's rows (none for another's people).
    "review:bulk": row(
        page("POST", body=lambda w: {"action": "close", "ids": [w.review_item.pk]}, outsider=403, viewer=403), GET_405
    ),
    "review:cases_bulk": row(
        page("POST", body=lambda w: {"action": "close", "ids": [w.case.pk]}, outsider=403, viewer=403), GET_405
    ),
    # ------------------------------------------------------------ alerts
    "alerts:bell": row(page(outsider=matrix.EMPTY)),  # no bell for those who may not see alerts
    "alerts:bell-seen": row(page("POST", outsider=403), GET_405),
    "alerts:thresholds": row(page(outsider=403), page("POST", body=THRESHOLDS, people=403, admin=OK, other_admin=OK)),
    "alerts:audit-csv": row(page(people=403, admin=OK, other_admin=OK)),
    # ------------------------------------------------------------ monitoring
    # Drift: analysts and above, each reading their own organisation's (another's has no such feature: 404).
    "monitoring:drift": row(page(outsider=403, viewer=403)),
    "monitoring:drift_feature": row(
        page(outsider=403, viewer=403, other_analyst=404, other_admin=404), kwargs=drift_feature
    ),
}

# ------------------------------------------------------------ the admin: one rule for the whole namespace

# Staff only: everyone else is sent to log in (the admin's own login page for people who are not staff). A superuser
# sees everything; a staff admin of another organisation sees its own rows (each changelist, without the test
# organisation's) and gets "does not exist" for the test organisation's objects. Exercised on every registered
# model's changelist and one change page of the test organisation's object, and on ADMIN_EXTRAS.
ADMIN_RULE = {
    "changelist": page(people=LOGIN, admin=OK, other_admin=OK),
    "change": page(people=LOGIN, admin=OK, other_admin=GONE),
}
# Where a model's pages answer a staff admin of another organisation otherwise than the rule: (changelist, change).
# Failed logins are the platform's, not an organisation's: only superusers (no admin group permission) see them.
# The roles (groups) are the same for every organisation: reading one tells nothing of the test organisation's
# (changing one is another matter: ADMIN_EXTRAS' "roles").
ADMIN_OTHER_ADMIN = dict.fromkeys(("axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"), ("403", "403"))
ADMIN_OTHER_ADMIN["auth.group"] = (OK, OK)


def group_form(world) -> dict:
    """The analyst role's change form as it stands, saved unchanged."""
    group = world.admin_objects["auth.group"]
    return {"name": group.name, "permissions": [str(pk) for pk in group.permissions.values_list("pk", flat=True)]}


def member_form(world) -> dict:
    """The other organisation's change form, adding the test organisation's analyst as a member (by id: the user
    picker offers only the people the admin may see)."""
    other = world.other_organisation
    return {
        "name": other.name,
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-0-user": str(world.users["analyst"].pk),
    }


# Other admin routes of the sample: (URL of the world, expected). Writes run in a savepoint rolled back; an admin
# form refused with errors answers `invalid` (200).
ADMIN_EXTRAS = {
    "index": (lambda w: reverse("admin:index"), page(people=LOGIN, admin=OK, other_admin=OK)),
    # The people picker offers only the people one may see (a leak would show the test organisation's analyst).
    "autocomplete": (
        lambda w: reverse("admin:autocomplete") + "?app_label=accounts&model_name=membership&field_name=user&term=al",
        page(people=LOGIN, admin=OK, other_admin=OK),
    ),
    "user-password": (
        lambda w: reverse("admin:auth_user_password_change", args=[w.users["analyst"].pk]),
        page(people=LOGIN, admin=OK, other_admin=404),
    ),
    # Only the platform's operators (superusers) change a role.
    "roles": (
        lambda w: reverse("admin:auth_group_change", args=[w.admin_objects["auth.group"].pk]),
        page("POST", body=group_form, people=LOGIN, admin=OK, other_admin=403),
    ),
    # A staff admin manages the members of its organisation among the people it may see; a superuser anyone.
    "members": (
        lambda w: reverse("admin:accounts_organisation_change", args=[w.other_organisation.pk]),
        page("POST", body=member_form, people=LOGIN, admin=OK, other_admin=INVALID),
    ),
}

# ------------------------------------------------------------ websockets

WEBSOCKETS = {
    # People who may see the queue and the bell hear their own organisation's: another organisation's people connect
    # to theirs and hear nothing of the test organisation's (checked by a broadcast to its group).
    "/ws/review/": socket(viewer=ACCEPT, analyst=ACCEPT, admin=ACCEPT, other_analyst=ACCEPT, other_admin=ACCEPT),
    "/ws/alerts/": socket(viewer=ACCEPT, analyst=ACCEPT, admin=ACCEPT, other_analyst=ACCEPT, other_admin=ACCEPT),
    # The analyst's job: its author and those who may see every job.
    "/ws/jobs/<int:job_id>/": socket(analyst=ACCEPT, lead=REFUSE, admin=ACCEPT),
}


# ---------------------------------------------------------------- the world


@pytest.fixture
def world(
    settings,
    tmp_path,
    trained_model,  # noqa: F811
    organisation,
    other_organisation,
    outsider,
    viewer,
    analyst,
    lead,
    admin_user,
    other_analyst,
    other_admin,
    other_partner_client,
):
    settings.MEDIA_ROOT = tmp_path
    people = {
        "outsider": outsider,
        "viewer": viewer,
        "analyst": analyst,
        "lead": lead,
        "admin": admin_user,
        "other_analyst": other_analyst,
        "other_admin": other_admin,
    }
    other_secret = other_partner_client._credentials["HTTP_AUTHORIZATION"].split()[1]
    built = matrix.build_world(
        organisation=organisation,
        other_organisation=other_organisation,
        people=people,
        other_token_secret=other_secret,
        trained=trained_model,
    )
    yield built
    registry.active_model_changed()


# ---------------------------------------------------------------- completeness


def test_every_route_has_a_row_and_every_row_a_route():
    routes = matrix.http_routes()
    missing = sorted(name for name in routes if not name.startswith("admin:") and name not in EXPECTED)
    gone = sorted(name for name in EXPECTED if name not in routes)
    sockets = matrix.websocket_routes()
    missing += sorted(path for path in sockets if path not in WEBSOCKETS)
    gone += sorted(path for path in WEBSOCKETS if path not in sockets)
    assert not missing, f"routes without a row in the authorization matrix (give each a row, and a name): {missing}"
    assert not gone, f"rows of routes that no longer exist (remove them): {gone}"


def test_every_row_answers_for_every_caller():
    tries = [t for r in EXPECTED.values() for t in r.tries] + list(ADMIN_RULE.values())
    tries += [attempt for _, attempt in ADMIN_EXTRAS.values()]
    assert all(set(t.answers) == set(CALLERS) for t in tries)
    assert all(set(answers) == set(CALLERS) for answers in WEBSOCKETS.values())
    registered = set(matrix.admin_models())
    assert set(ADMIN_OTHER_ADMIN) <= registered


def test_the_lead_role_has_its_column():
    from accounts import services

    if not hasattr(services, "LEAD"):
        pytest.skip("no lead role yet (issue #22): when there is one, add the 'lead' caller (see matrix.CALLERS)")
    assert "lead" in CALLERS, "the lead role exists: add the 'lead' caller to the matrix and its answers to every row"


# ---------------------------------------------------------------- the routes


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_route(name, world):
    expected = EXPECTED[name]
    url = reverse(name, kwargs=expected.kwargs(world) if expected.kwargs else None)
    verdict = Verdict()
    for attempt in expected.tries:
        for caller in CALLERS:
            got, detail = ask(world, caller, attempt, url)
            label = f"{attempt.method} {url}"
            verdict.judge(label, caller, attempt.answers[caller], got, detail, attempt.holes.get(caller))
    verdict.conclude()


ADMIN_SAMPLE = [f"{label}:{kind}" for label in matrix.admin_models() for kind in ("changelist", "change")]


@pytest.mark.parametrize("sample", ADMIN_SAMPLE + sorted(ADMIN_EXTRAS))
def test_admin(sample, world):
    """admin:* by its one rule, on each registered model's changelist and one change page of the test organisation's
    object, and on ADMIN_EXTRAS."""
    if sample in ADMIN_EXTRAS:
        url_of, attempt = ADMIN_EXTRAS[sample]
        url = url_of(world)
    else:
        label, kind = sample.rsplit(":", 1)
        assert label in world.admin_objects, f"give the world an object of {label} for its change page"
        app, model = label.split(".")
        url = reverse(f"admin:{app}_{model}_{kind}", args=[world.admin_objects[label].pk] if kind == "change" else [])
        attempt = ADMIN_RULE[kind]
        if label in ADMIN_OTHER_ADMIN:
            other = ADMIN_OTHER_ADMIN[label][0 if kind == "changelist" else 1]
            attempt = replace(attempt, answers=attempt.answers | {"other_admin": other})
    verdict = Verdict()
    for caller in CALLERS:
        got, detail = ask(world, caller, attempt, url)
        verdict.judge(
            f"{attempt.method} {url}", caller, attempt.answers[caller], got, detail, attempt.holes.get(caller)
        )
    verdict.conclude()


# ---------------------------------------------------------------- websockets


def _socket_path(path: str, world) -> str:
    return path.replace("<int:job_id>", str(world.job.pk))


def _probe(path: str, world) -> tuple[str, dict] | None:
    """A broadcast to the test organisation's group behind the socket: heard by its people, by no one else."""
    from alerts.live import bell_group
    from review.broadcast import queue_group

    if path == "/ws/review/":
        return queue_group(world.organisation.pk), {
            "type": "queue.event",
            "event": "changed",
            "item_ids": [world.review_item.pk],
        }
    if path == "/ws/alerts/":
        return bell_group(world.organisation.pk), {"type": "alerts.changed"}
    return None


def _headers(world, caller: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if caller in world.secrets:
        headers.append((b"authorization", f"Bearer {world.secrets[caller]}".encode()))
    if caller in world.users:
        cookie = world.client(caller).cookies[settings.SESSION_COOKIE_NAME].value
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return headers


async def _knock(path: str, headers, probe, stranger: bool) -> tuple[str, str]:
    """Connect; then, if a probe is given, broadcast it to the test organisation's group: its own people hear it, a
    stranger must not. The communicator is always closed, so no consumer outlives the event loop."""
    communicator = WebsocketCommunicator(application, path, headers=headers)
    try:
        connected, code = await communicator.connect(timeout=5)
        if not connected:
            return REFUSE, f"closed {code}"
        if path.startswith("/ws/jobs/"):
            await communicator.receive_from(timeout=5)  # the progress partial, sent on connecting
        if probe is not None:
            await get_channel_layer().group_send(*probe)
            if stranger and not await communicator.receive_nothing(timeout=0.3):
                return "leak:heard the test organisation's broadcast", "accepted"
            if not stranger:
                await communicator.receive_from(timeout=5)  # the probe reaches the organisation's own people
        return ACCEPT, "accepted"
    except TimeoutError:
        return "silent", "accepted, then nothing came within 5 s"
    finally:
        # A consumer left running past the event loop deadlocks its closing; one slow to stop is cancelled.
        await communicator.disconnect(timeout=0.2)


async def _knock_all(url: str, callers: dict, probe) -> dict[str, tuple[str, str]]:
    return {
        caller: await _knock(url, headers, probe, caller in matrix.STRANGERS) for caller, headers in callers.items()
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", sorted(WEBSOCKETS))
def test_websocket(path, world):
    """Over the real ASGI application: the session cookie (or a bearer token, which a socket does not read)."""
    url = _socket_path(path, world)
    answers = async_to_sync(_knock_all)(
        url, {caller: _headers(world, caller) for caller in CALLERS}, _probe(path, world)
    )
    verdict = Verdict()
    for caller, (got, detail) in answers.items():
        verdict.judge(f"WS {url}", caller, WEBSOCKETS[path][caller], got, detail, None)
    verdict.conclude()
