"""The rules pages: the list with hits and precision from the stored scores, a rule's page, the editor that checks
as you type, publishing and disabling, the test on history's start and its report."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rules.models import RuleTest, RuleVersion
from rules.policy import services
from tests.conftest import work_in
from tests.factories import ScoreFactory, TransactionFactory

EXPRESSION = 'amount > 500 and channel == "online"'


@pytest.fixture
def admin_client(client, admin_user, organisation):
    client.force_login(admin_user)
    work_in(client, organisation)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


def make_rule(organisation, name="big_online", expression=EXPRESSION, action="review", publish=False):
    version = services.rule_create(organisation_id=organisation.pk, name=name, expression=expression, action=action)
    if publish:
        version = services.rule_publish(rule=version.rule, untested=True)
    return version.rule


def score_naming(rule, *, label=None, hours_ago=1, missing=False):
    entry = {"id": rule.pk, "name": rule.name, "version": 1, "action": "review"} | (
        {"missing": True} if missing else {}
    )
    score = ScoreFactory(
        transaction=TransactionFactory(label=label, labelled_at=timezone.now() if label is not None else None),
        rules=[entry],
    )
    type(score).objects.filter(pk=score.pk).update(created_at=timezone.now() - timedelta(hours=hours_ago))
    return score


# ---------------------------------------------------------------- the list


def test_the_list_shows_hits_precision_and_rows_missing_a_value(viewer_client, organisation):
    rule = make_rule(organisation, publish=True)
    score_naming(rule, label=1)
    score_naming(rule, label=0, hours_ago=30)
    score_naming(rule, label=1, hours_ago=50)
    score_naming(rule, hours_ago=2)
    score_naming(rule, hours_ago=24 * 8)  # older than a week: not counted
    score_naming(rule, missing=True)

    response = viewer_client.get("/rules/")

    assert response.status_code == 200
    [(summary, hits)] = response.context["rows"]
    assert (summary.status, summary.shown.version) == ("active", 1)
    assert (hits.day, hits.week, hits.fraud, hits.legitimate, hits.missing) == (2, 4, 2, 1, 1)
    assert hits.precision == pytest.approx(2 / 3)
    assert b"0.67" in response.content


def test_a_transaction_scored_by_two_model_versions_is_one_hit(viewer_client, organisation):
    rule = make_rule(organisation, publish=True)
    for missing in (False, True):
        first = score_naming(rule, label=1 if not missing else None, missing=missing)
        ScoreFactory(transaction=first.transaction, rules=first.rules)  # the same transaction, another model version

    response = viewer_client.get("/rules/")

    assert response.status_code == 200
    assert type(first).objects.count() == 4
    [(_, hits)] = response.context["rows"]
    assert (hits.day, hits.week, hits.fraud, hits.legitimate, hits.missing) == (1, 1, 1, 0, 1)
    assert hits.precision == 1.0


def test_the_list_reads_in_a_constant_number_of_queries(viewer_client, organisation, django_assert_num_queries):
    for k in range(3):
        rule = make_rule(organisation, name=f"rule_{k}", publish=True)
        services.rule_edit(rule=rule, expression="amount > 1", action="block")
        score_naming(rule)
    viewer_client.get("/rules/")  # the session and permission caches warm

    # The session, the user, their organisations (twice: the middleware, the header), their permissions (two), the
    # hits, the rules and their versions: whatever the number of rules.
    with django_assert_num_queries(9):
        response = viewer_client.get("/rules/")

    assert len(response.context["rows"]) == 3


def test_the_list_shows_the_organisations_rules_only(client, other_analyst, organisation):
    make_rule(organisation, name="ours_secret")
    client.force_login(other_analyst)

    response = client.get("/rules/")

    assert response.status_code == 200
    assert b"ours_secret" not in response.content


def test_a_person_without_a_role_may_not_read_rules(client, outsider):
    client.force_login(outsider)

    assert client.get("/rules/").status_code == 403


def test_the_nav_offers_rules_to_those_who_read_them(viewer_client):
    assert b'href="/rules/"' in viewer_client.get("/review/").content


# ---------------------------------------------------------------- a rule's page


def test_a_rules_page_shows_its_versions_and_history(admin_client, organisation, admin_user):
    rule = make_rule(organisation, publish=True)
    services.rule_edit(rule=rule, expression="amount > 900", action="block", user=admin_user)

    response = admin_client.get(f"/rules/{rule.pk}/")

    assert response.status_code == 200
    assert [v.version for v in response.context["versions"]] == [2, 1]
    assert [e.action for e in response.context["audit"]] == ["rule.edit", "rule.publish", "rule.create"]
    assert b"Version 2 (draft) waits to replace it" in response.content


def test_another_organisations_rule_page_is_404(client, other_admin, organisation):
    rule = make_rule(organisation)
    client.force_login(other_admin)

    assert client.get(f"/rules/{rule.pk}/").status_code == 404
    assert client.get(f"/rules/{rule.pk}/edit/").status_code == 404


# ---------------------------------------------------------------- the editor


def test_the_editor_offers_names_to_complete(admin_client):
    response = admin_client.get("/rules/new/")

    assert response.status_code == 200
    assert b'id="rule-completions" type="application/json"' in response.content
    assert b"count_24h_account" in response.content
    assert b"js/rule-editor.js" in response.content


def test_the_check_marks_an_error_at_its_position(admin_client):
    response = admin_client.get("/rules/check/", {"expression": "amount > 5 and amout < 9"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert b'data-position="15"' in response.content
    assert b"amount &gt; 5 and <mark>amout</mark> &lt; 9" in response.content
    assert b"<html" not in response.content


def test_the_check_says_a_valid_condition_is_valid(admin_client):
    response = admin_client.get("/rules/check/", {"expression": EXPRESSION}, HTTP_HX_REQUEST="true")

    assert b"The condition is valid." in response.content


def test_saving_an_invalid_condition_shows_the_error_at_its_position(admin_client):
    body = {"name": "typo", "expression": 'amount > "x"', "action": "review"}

    response = admin_client.post("/rules/new/", body)

    assert response.status_code == 400
    assert b"<mark>" in response.content
    assert not RuleVersion.objects.exists()


def test_saving_a_new_rule_makes_a_draft(admin_client, admin_user):
    body = {"name": "big_online", "expression": EXPRESSION, "action": "block", "description": "x"}

    response = admin_client.post("/rules/new/", body)

    version = RuleVersion.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/rules/{version.rule_id}/"
    assert (version.status, version.action, version.created_by) == ("draft", "block", admin_user)


def test_a_name_taken_is_the_name_fields_error(admin_client, organisation):
    make_rule(organisation)

    response = admin_client.post("/rules/new/", {"name": "big_online", "expression": EXPRESSION, "action": "review"})

    assert response.status_code == 400
    assert "name" in response.context["form"].errors


def test_editing_makes_a_new_version(admin_client, organisation):
    rule = make_rule(organisation, publish=True)

    response = admin_client.post(f"/rules/{rule.pk}/edit/", {"expression": "amount > 900", "action": "block"})

    assert response.status_code == 302
    assert list(rule.versions.values_list("version", "status")) == [(2, "draft"), (1, "active")]


def test_the_edit_form_starts_from_the_latest_version(admin_client, organisation):
    rule = make_rule(organisation)

    response = admin_client.get(f"/rules/{rule.pk}/edit/")

    assert response.context["form"].initial["expression"] == EXPRESSION
    assert "name" not in response.context["form"].fields


@pytest.mark.parametrize("path", ["/rules/new/", "/rules/check/"])
def test_analysts_may_not_write_rules(client, analyst, path):
    client.force_login(analyst)

    assert client.get(path).status_code == 403


# ---------------------------------------------------------------- publish, disable


def test_an_untested_draft_is_not_published_without_the_box_ticked(admin_client, organisation):
    rule = make_rule(organisation)

    response = admin_client.post(f"/rules/{rule.pk}/publish/", follow=True)

    assert rule.versions.get().status == "draft"
    assert b"has not been tested on history" in response.content


def test_ticking_the_box_publishes_an_untested_draft(admin_client, organisation, admin_user):
    rule = make_rule(organisation)

    admin_client.post(f"/rules/{rule.pk}/publish/", {"untested": "on"})

    version = rule.versions.get()
    assert (version.status, version.published_by) == ("active", admin_user)


def test_disabling_from_the_page(admin_client, organisation):
    rule = make_rule(organisation, publish=True)

    admin_client.post(f"/rules/{rule.pk}/disable/")

    assert rule.versions.get().status == "disabled"


@pytest.mark.parametrize("action", ["publish", "disable"])
def test_analysts_may_not_publish_or_disable(client, analyst, organisation, action):
    rule = make_rule(organisation, publish=action == "disable")
    client.force_login(analyst)

    assert client.post(f"/rules/{rule.pk}/{action}/", {"untested": "on"}).status_code == 403


def test_another_organisations_admin_may_not_publish(client, other_admin, organisation):
    rule = make_rule(organisation)
    client.force_login(other_admin)

    assert client.post(f"/rules/{rule.pk}/publish/", {"untested": "on"}).status_code == 404
    assert rule.versions.get().status == "draft"


# ---------------------------------------------------------------- the test on history's pages


def test_starting_a_test_queues_it_on_the_latest_version(admin_client, organisation, admin_user):
    rule = make_rule(organisation, publish=True)
    draft = services.rule_edit(rule=rule, expression="amount > 900", action="block")

    response = admin_client.post(f"/rules/{rule.pk}/tests/", {"days": "14"})

    test = RuleTest.objects.get()
    assert response["Location"] == f"/rules/tests/{test.pk}/"
    assert (test.rule_version, test.days, test.status, test.created_by) == (draft, 14, "pending", admin_user)


def test_days_out_of_range_start_no_test(admin_client, organisation):
    rule = make_rule(organisation)

    admin_client.post(f"/rules/{rule.pk}/tests/", {"days": "0"})

    assert not RuleTest.objects.exists()


def test_a_running_test_shows_its_progress_and_polls(viewer_client, organisation):
    rule = make_rule(organisation)
    test = RuleTest.objects.create(
        rule_version=rule.versions.get(), status="running", total_rows=1000, processed_rows=250
    )

    response = viewer_client.get(f"/rules/tests/{test.pk}/", HTTP_HX_REQUEST="true")

    assert b'<progress id="test-progress" max="100" value="25">' in response.content
    assert b'hx-trigger="every 1s"' in response.content
    assert b"250 of 1,000 rows" in response.content


def test_a_finished_test_shows_its_report(viewer_client, organisation):
    rule = make_rule(organisation)
    tx = TransactionFactory(transaction_id="sampled-hit")
    report = {
        "rows": 10,
        "hits": 5,
        "hit_rate": 0.5,
        "fraud": 2,
        "legitimate": 2,
        "unlabelled": 1,
        "precision": 0.5,
        "missing": 3,
        "model": {"review_threshold": 0.95, "flagged": 3, "overlap": 2},
        "rules": [{"id": rule.pk, "name": "other_rule", "version": 1, "action": "block", "hits": 2, "overlap": 2}],
        "per_day": [
            {"day": "2026-03-07", "hits": 2, "fraud": 1, "legitimate": 1, "rows": 3},
            {"day": "2026-03-08", "hits": 3, "fraud": 1, "legitimate": 1, "rows": 7},
        ],
        "sample": [tx.pk],
        "seconds": 0.5,
        "rows_per_minute": 1200,
    }
    test = RuleTest.objects.create(rule_version=rule.versions.get(), status="done", report=report)

    response = viewer_client.get(f"/rules/tests/{test.pk}/")

    content = response.content.decode()
    assert 'id="test-hits">5<' in content and 'id="test-precision">0.500<' in content
    assert 'data-series="Hits" data-points="2"' in content
    assert 'data-series="Labelled fraud"' in content
    assert f'href="/review/transactions/{tx.pk}/">sampled-hit</a>' in content
    assert "other_rule" in content
    assert "every 1s" not in content


def test_another_organisations_test_is_404(client, other_analyst, organisation):
    rule = make_rule(organisation)
    test = RuleTest.objects.create(rule_version=rule.versions.get())
    client.force_login(other_analyst)

    assert client.get(f"/rules/tests/{test.pk}/").status_code == 404
