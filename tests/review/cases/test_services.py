"""Notes, attachments, links, decisions and case-wide actions."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from alerts.models import AuditEvent
from review.bulk.services import BulkRefused
from review.cases.selectors import case_list, cases_of
from review.cases.services import (
    CaseRefused,
    case_attachment_add,
    case_decide,
    case_link,
    case_note_add,
    cases_bulk,
)
from review.models import Case, CaseEvent, ReviewItem
from review.selectors import review_items
from tests.review.cases.conftest import flag
from transactions.models import Transaction


@pytest.fixture
def case(case_items):
    return Case.objects.get()


def test_a_note_is_kept_in_the_case_history(case, analyst):
    case_note_add(case=case, user=analyst, text="Called the customer")
    assert case.events.get(kind="note").text == "Called the customer"


def test_an_empty_note_is_refused(case, analyst):
    with pytest.raises(CaseRefused, match="Note"):
        case_note_add(case=case, user=analyst, text="   ")


def test_an_attachment_is_stored_under_media_and_recorded(case, analyst, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    attachment = case_attachment_add(
        case=case, user=analyst, upload=SimpleUploadedFile("statement.pdf", b"%PDF-1.4 hello")
    )
    assert (tmp_path / attachment.file_path).read_bytes() == b"%PDF-1.4 hello"
    assert attachment.file_path.startswith(f"cases/{case.pk}/")
    assert case.events.filter(kind="attachment", text__contains="statement.pdf").exists()


def test_an_attachment_over_the_limit_is_refused_naming_the_limit(case, analyst, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.CASE_ATTACHMENT_MAX_BYTES = 10
    with pytest.raises(CaseRefused, match="10 bytes"):
        case_attachment_add(case=case, user=analyst, upload=SimpleUploadedFile("big.bin", b"x" * 11))
    assert not case.attachments.exists()


def test_deciding_all_items_labels_them_and_closes_the_case(case, case_items, analyst):
    result = case_decide(case=case, user=analyst, decision="fraud", note="card stolen")
    assert result.count == 3
    assert Transaction.objects.filter(pk__in=[i.transaction_id for i in case_items], label=1).count() == 3
    case.refresh_from_db()
    assert case.status == "closed"
    assert case.events.filter(kind="decision").exists()


def test_deciding_the_selected_items_leaves_the_others_and_the_case_open(case, case_items, analyst):
    result = case_decide(case=case, user=analyst, decision="legitimate", item_ids=[case_items[0].pk])
    assert result.count == 1
    assert ReviewItem.objects.filter(case=case, status="open").count() == 2
    case.refresh_from_db()
    assert case.status == "open"


def test_deciding_with_no_item_selected_is_refused(case, analyst):
    with pytest.raises(BulkRefused, match="Items"):
        case_decide(case=case, user=analyst, decision="fraud", item_ids=[])


def test_a_decision_applies_only_to_the_cases_own_items(case, analyst):
    other = flag("acct-elsewhere")
    case_decide(case=case, user=analyst, decision="fraud", item_ids=[other.pk])
    assert ReviewItem.objects.get(pk=other.pk).status == "open"


def test_linking_by_merchant_brings_another_accounts_items_into_the_case(case, organisation, analyst):
    other = flag("acct-mule", merchant_id="m-shady")
    moved = case_link(
        case=case, items=review_items(organisation_id=organisation.pk), user=analyst, by="merchant", value="m-shady"
    )
    assert moved == 1
    assert ReviewItem.objects.get(pk=other.pk).case_id == case.pk
    assert Case.objects.get(account_id="acct-mule").status == "closed"  # nothing left in it


def test_linking_by_device_finds_items_with_that_device(case, organisation, analyst):
    other = flag("acct-device", device_id="dev-77")
    case_link(case=case, items=review_items(organisation_id=organisation.pk), user=analyst, by="device", value="dev-77")
    assert ReviewItem.objects.get(pk=other.pk).case_id == case.pk
    assert case.events.filter(kind="linked", text__contains="device dev-77").exists()


def test_linking_that_finds_nothing_says_so(case, organisation, analyst):
    with pytest.raises(CaseRefused, match="no item"):
        case_link(
            case=case, items=review_items(organisation_id=organisation.pk), user=analyst, by="merchant", value="x"
        )


def test_a_lead_assigns_a_case_and_its_items_to_an_analyst(case, organisation, lead, analyst):
    count, result = cases_bulk(
        cases=cases_of(organisation_id=organisation.pk),
        user=lead,
        action="assign",
        assignee=analyst,
        organisation_id=organisation.pk,
    )
    assert (count, result.count) == (1, 3)
    case.refresh_from_db()
    assert case.assignee == analyst
    assert case_list(organisation_id=organisation.pk, user=analyst, filters={"assignee": "me"}).get() == case
    assert AuditEvent.objects.get(action="case.bulk_assign").after["count"] == 1
    assert case.events.filter(kind="assigned", text__contains="alice").exists()


def test_releasing_a_case_clears_its_assignee_and_its_items(case, organisation, lead, analyst):
    cases = cases_of(organisation_id=organisation.pk)
    cases_bulk(cases=cases, user=lead, action="assign", assignee=analyst, organisation_id=organisation.pk)
    cases_bulk(cases=cases, user=analyst, action="release", organisation_id=organisation.pk)
    case.refresh_from_db()
    assert case.assignee is None
    assert ReviewItem.objects.filter(case=case, status="open", assignee__isnull=True).count() == 3


def test_a_snoozed_case_leaves_the_open_cases_until_its_time(case, organisation, analyst):
    until = timezone.now() + timedelta(days=1)
    cases_bulk(
        cases=cases_of(organisation_id=organisation.pk),
        user=analyst,
        action="snooze",
        until=until,
        reason="waiting for documents",
        organisation_id=organisation.pk,
    )
    assert not case_list(organisation_id=organisation.pk, user=analyst, filters={}).exists()
    snoozed = case_list(organisation_id=organisation.pk, user=analyst, filters={"status": "snoozed"}).get()
    assert snoozed.snooze_reason == "waiting for documents"


def test_closing_a_case_closes_its_items_without_labels(case, organisation, analyst):
    cases_bulk(
        cases=cases_of(organisation_id=organisation.pk), user=analyst, action="close", organisation_id=organisation.pk
    )
    case.refresh_from_db()
    assert case.status == "closed"
    assert ReviewItem.objects.filter(case=case, status="closed").count() == 3
    assert not Transaction.objects.filter(label__isnull=False).exists()


def test_case_list_shows_counts_top_score_and_amount(case, organisation, analyst):
    row = case_list(organisation_id=organisation.pk, user=analyst, filters={}).get()
    assert (row.item_count, row.active_items) == (3, 3)
    assert float(row.active_amount) == 303.0
    assert row.max_score == pytest.approx(0.97)


def test_deciding_the_last_item_on_the_transaction_page_closes_the_case(case, case_items, analyst):
    from review.services import review_decide

    for item in case_items:
        review_decide(item=item, user=analyst, decision="legitimate")
    case.refresh_from_db()
    assert case.status == "closed"
    assert CaseEvent.objects.filter(case=case, kind="decision").count() == 3
