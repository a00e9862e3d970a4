"""Rules for people: the list (with each rule's hits and precision), a rule's page (versions, audit, tests), the
editor that validates as you type, and the life cycle's buttons (publish, disable, test on history).

Everyone with a role reads; editing needs `rules.add_ruleversion`, testing `rules.add_ruletest`, publishing and
disabling `rules.publish` (admins hold all three). Another organisation's rule or test is 404.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rules.fields import completions
from rules.lists.selectors import list_kinds
from rules.models import RuleVersion
from rules.policy import selectors, services
from rules.policy.forms import PublishForm, RuleForm, RuleTestForm
from rules.testing.report import report_context
from rules.testing.selectors import rule_test_get, rule_test_summaries
from rules.testing.services import rule_test_create


def _organisation_id(request) -> int:
    organisation = getattr(request, "organisation", None)
    if organisation is None:
        raise Http404("You work in no organisation.")
    return organisation.pk


def _require(request, allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _rule_for(request, rule_id: int):
    """The rule, for someone who may read rules, of the organisation they work in; 404 for another's."""
    _require(request, request.user.has_perm(selectors.VIEW_PERM))
    return selectors.rule_get(organisation_id=_organisation_id(request), rule_id=rule_id)


@require_GET
def rule_index(request):
    _require(request, request.user.has_perm(selectors.VIEW_PERM))
    organisation_id = _organisation_id(request)
    hits = selectors.rule_hits(organisation_id=organisation_id)
    rows = [
        (summary, hits.get(summary.rule.pk, selectors.RuleHits()))
        for summary in map(selectors.rule_summary, selectors.rules_of(organisation_id=organisation_id))
    ]
    context = {"rows": rows, "may_edit": selectors.may_edit(request.user)}
    return render(request, "rules/policy/index.html", context)


@require_GET
def rule_detail(request, rule_id: int):
    rule = _rule_for(request, rule_id)
    summary = selectors.rule_summary(selectors.rules_of(organisation_id=rule.organisation_id).get(pk=rule.pk))
    hits = selectors.rule_hits(organisation_id=rule.organisation_id).get(rule.pk, selectors.RuleHits())
    context = {
        "summary": summary,
        "rule": rule,
        "hits": hits,
        "versions": list(summary.rule.versions.all()),
        "audit": selectors.rule_audit(rule=rule)[:50],
        "tests": rule_test_summaries(rule=rule)[:20],
        "test_form": RuleTestForm(),
        "publish_form": PublishForm(),
        "may_edit": selectors.may_edit(request.user),
        "may_test": selectors.may_test(request.user),
        "may_publish": selectors.may_publish(request.user),
    }
    return render(request, "rules/policy/detail.html", context)


def _editor_context(request, form: RuleForm, *, organisation_id: int, rule=None) -> dict:
    return {
        "form": form,
        "rule": rule,
        "completions": completions(list_kinds(organisation_id=organisation_id)),
        "check": _check_context(form.data.get("expression", ""), form.expression_error) if form.is_bound else None,
    }


def _editor(request, form: RuleForm, *, organisation_id: int, rule=None):
    context = _editor_context(request, form, organisation_id=organisation_id, rule=rule)
    return render(request, "rules/policy/editor.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def rule_new(request):
    _require(request, selectors.may_edit(request.user))
    organisation_id = _organisation_id(request)
    form = RuleForm(request.POST or None, organisation_id=organisation_id)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.rule_create(organisation_id=organisation_id, user=request.user, **form.cleaned_data)
        except (services.RuleRefused, services.ExpressionError) as exc:
            form.refuse(exc)
        else:
            messages.success(request, f"Rule {version.rule.name} saved as a draft (version 1).")
            return redirect("rules:detail", rule_id=version.rule_id)
    return _editor(request, form, organisation_id=organisation_id)


@require_http_methods(["GET", "POST"])
def rule_edit(request, rule_id: int):
    rule = _rule_for(request, rule_id)
    _require(request, selectors.may_edit(request.user))
    latest = selectors.rule_latest_version(rule=rule)
    initial = {name: getattr(latest, name) for name in ("expression", "action", "tag", "description")}
    data = request.POST if request.method == "POST" else None
    form = RuleForm(data, initial=initial, organisation_id=rule.organisation_id, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.rule_edit(rule=rule, user=request.user, **form.cleaned_data)
        except (services.RuleRefused, services.ExpressionError) as exc:
            form.refuse(exc)
        else:
            messages.success(request, f"Version {version.version} of {rule.name} saved as a draft.")
            return redirect("rules:detail", rule_id=rule.pk)
    return _editor(request, form, organisation_id=rule.organisation_id, rule=rule)


def _check_context(expression: str, error) -> dict:
    """What the editor shows under the condition: valid, or the error with the spot it points at marked."""
    if error is None:
        return {"expression": expression, "valid": bool(expression.strip())}
    start = min(max(error.position, 0), len(expression))
    end = min(start + getattr(error, "length", 1), len(expression))
    return {
        "expression": expression,
        "valid": False,
        "error": error,
        "before": expression[:start],
        "spot": expression[start:end] or " ",
        "after": expression[end:],
    }


@require_GET
def rule_check(request):
    """The editor's check as you type (htmx): the condition compiled, its error marked at its position."""
    _require(request, selectors.may_edit(request.user))
    organisation_id = _organisation_id(request)
    expression = request.GET.get("expression", "")
    error = None
    if expression.strip():
        try:
            services.expression_compile(organisation_id=organisation_id, expression=expression)
        except services.ExpressionError as exc:
            error = exc
    return render(request, "rules/policy/editor.html#expression-check", {"check": _check_context(expression, error)})


@require_POST
def rule_publish(request, rule_id: int):
    rule = _rule_for(request, rule_id)
    _require(request, selectors.may_publish(request.user))
    form = PublishForm(request.POST)
    untested = form.is_valid() and form.cleaned_data["untested"]
    try:
        version = services.rule_publish(rule=rule, user=request.user, untested=untested)
    except (services.RuleRefused, services.ExpressionError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Version {version.version} of {rule.name} is in force.")
    return redirect("rules:detail", rule_id=rule.pk)


@require_POST
def rule_disable(request, rule_id: int):
    rule = _rule_for(request, rule_id)
    _require(request, selectors.may_publish(request.user))
    try:
        version = services.rule_disable(rule=rule, user=request.user)
    except services.RuleRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{rule.name} is disabled (version {version.version} no longer decides).")
    return redirect("rules:detail", rule_id=rule.pk)


@require_POST
def rule_test_start(request, rule_id: int):
    """Run the rule's latest version on the last N days of stored transactions (a worker does it)."""
    rule = _rule_for(request, rule_id)
    _require(request, selectors.may_test(request.user))
    form = RuleTestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors["days"]))
        return redirect("rules:detail", rule_id=rule.pk)
    version = selectors.rule_latest_version(rule=rule)
    test = rule_test_create(version=version, days=form.cleaned_data["days"], user=request.user)
    return redirect("rules:test", test_id=test.pk)


@require_GET
def rule_test_detail(request, test_id: int):
    _require(request, request.user.has_perm(selectors.VIEW_PERM))
    test = rule_test_get(organisation_id=_organisation_id(request), test_id=test_id)
    version: RuleVersion = test.rule_version
    latest = selectors.rule_latest_version(rule=version.rule)
    context = {
        "test": test,
        "version": version,
        "rule": version.rule,
        "is_latest": latest.pk == version.pk,
        "publish_form": PublishForm(),
        "may_publish": selectors.may_publish(request.user),
        **report_context(test),
    }
    template = "rules/policy/test.html#test-report" if request.htmx else "rules/policy/test.html"
    return render(request, template, context)
