"""The detection app's admin pages are scoped by organisation: staff see and change only their organisations'."""

import pytest
from django.urls import reverse

from accounts.services import ADMIN
from core.models import AuditEvent
from detection.jobs.services import upload_source
from detection.models import ModelVersion, RiskPolicy, ScoringJob
from detection.policy.selectors import risk_policy_current
from tests.factories import (
    BacktestRunFactory,
    ModelVersionFactory,
    RiskPolicyFactory,
    ScoreFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, organisation):
    """Staff (not a superuser) of the test organisation only."""
    client.force_login(UserFactory(username="stan", roles=[ADMIN], is_staff=True, organisations=[organisation]))
    return client


def one_of_each(organisation, *, version: int, comment: str) -> dict:
    """One row of each kind in the organisation, by the admin's model name."""
    model_version = ModelVersionFactory(organisation=organisation, version=version, status=ModelVersion.Status.ACTIVE)
    source = upload_source(organisation=organisation)
    return {
        "modelversion": model_version,
        "riskpolicy": RiskPolicyFactory(organisation=organisation, comment=comment),
        "scoringjob": ScoringJob.objects.create(source=source, file_path="x.csv", file_format="csv"),
        "backtestrun": BacktestRunFactory(organisation=organisation),
        "score": ScoreFactory(transaction=TransactionFactory(source=source), model_version=model_version),
    }


@pytest.fixture
def theirs(other_organisation):
    """One row of each kind in another organisation."""
    return one_of_each(other_organisation, version=41, comment="their policy")


@pytest.fixture
def ours(organisation):
    return one_of_each(organisation, version=42, comment="our policy")


@pytest.mark.parametrize("model", ["modelversion", "riskpolicy", "scoringjob", "backtestrun", "score"])
def test_staff_see_only_their_organisations_rows(staff_client, ours, theirs, model):
    changelist = staff_client.get(reverse(f"admin:detection_{model}_changelist"))
    their_page = staff_client.get(reverse(f"admin:detection_{model}_change", args=[theirs[model].pk]))
    our_page = staff_client.get(reverse(f"admin:detection_{model}_change", args=[ours[model].pk]))

    assert changelist.status_code == 200
    assert [row.pk for row in changelist.context["cl"].result_list] == [ours[model].pk]
    assert their_page.status_code == 302  # the admin's "does not exist" redirect
    assert our_page.status_code == 200


def test_a_superuser_sees_every_organisations_rows_and_may_filter_by_one(client, admin_user, ours, theirs):
    client.force_login(admin_user)
    url = reverse("admin:detection_modelversion_changelist")

    every = client.get(url).context["cl"].result_list
    filtered = client.get(url, {"organisation__id__exact": theirs["modelversion"].organisation_id})

    assert {v.pk for v in every} == {ours["modelversion"].pk, theirs["modelversion"].pk}
    assert [v.pk for v in filtered.context["cl"].result_list] == [theirs["modelversion"].pk]


def test_activation_in_admin_goes_through_the_comparison_and_retires_only_the_organisations_active_one(
    staff_client, ours, theirs
):
    ready = ModelVersionFactory(organisation=ours["modelversion"].organisation, version=43)

    action = staff_client.post(
        reverse("admin:detection_modelversion_changelist"), {"action": "activate", "_selected_action": [ready.pk]}
    )
    confirmed = staff_client.post(
        reverse("detection:version_activate", kwargs={"pk": ready.pk}), {"compared_with": ours["modelversion"].pk}
    )

    assert action["Location"] == reverse("detection:version_compare", kwargs={"pk": ready.pk})
    assert confirmed.status_code == 302
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {41: "active", 42: "retired", 43: "active"}


def test_a_new_policy_in_admin_is_filed_under_an_organisation_the_staff_member_works_in(
    staff_client, organisation, other_organisation, theirs
):
    add = reverse("admin:detection_riskpolicy_add")
    values = {"medium": "0.7", "high": "0.9", "critical": "0.98", "review_threshold": "0.9", "comment": "tuned"}

    refused = staff_client.post(add, values | {"organisation": other_organisation.pk})
    saved = staff_client.post(add, values | {"organisation": organisation.pk})

    assert refused.status_code == 200 and "organisation" in refused.context["adminform"].form.errors
    assert saved.status_code == 302
    assert risk_policy_current(organisation_id=organisation.pk).review_threshold == 0.9
    assert RiskPolicy.objects.filter(organisation=other_organisation).get().comment == "their policy"


def test_the_add_policy_form_starts_from_the_organisations_policy_in_force(staff_client, organisation, ours):
    response = staff_client.get(reverse("admin:detection_riskpolicy_add"))

    initial = response.context["adminform"].form.initial
    assert initial["organisation"] == organisation.pk
    assert initial["review_threshold"] == ours["riskpolicy"].review_threshold


def test_the_admins_actions_make_a_challenger_then_promote_it_audited(staff_client, ours, theirs):
    ready = ModelVersionFactory(organisation=ours["modelversion"].organisation, version=43)
    url = reverse("admin:detection_modelversion_changelist")

    staff_client.post(url, {"action": "challenge", "_selected_action": [ready.pk]})
    assert ModelVersion.objects.get(pk=ready.pk).challenger
    staff_client.post(url, {"action": "promote", "_selected_action": [ready.pk]})

    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {41: "active", 42: "retired", 43: "active"}  # theirs left as it is
    assert list(
        AuditEvent.objects.filter(action__startswith="model.").order_by("id").values_list("action", flat=True)
    ) == [
        "model.challenge",
        "model.promote",
    ]


def test_the_challenge_action_refuses_another_organisations_version(staff_client, theirs):
    their_ready = ModelVersionFactory(organisation=theirs["modelversion"].organisation, version=44)

    response = staff_client.post(
        reverse("admin:detection_modelversion_changelist"),
        {"action": "challenge", "_selected_action": [their_ready.pk]},
    )

    assert response.status_code in (200, 302)
    assert not ModelVersion.objects.filter(challenger=True).exists()
