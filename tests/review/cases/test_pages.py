"""The cases pages and the bulk endpoints, through the test client."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from review.models import Case, ReviewItem
from tests.conftest import work_in
from tests.review.bulk import bulk_open_items
from tests.review.cases.conftest import flag


@pytest.fixture
def case(case_items):
    return Case.objects.get()


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


def test_cases_page_lists_the_open_cases_with_their_counts(analyst_client, case):
    response = analyst_client.get(reverse("review:cases"))
    assert response.status_code == 200
    assert f'id="case-row-{case.pk}"' in response.content.decode()
    assert "acct-case" in response.content.decode()


def test_cases_page_takes_a_constant_number_of_queries(analyst_client, case, django_assert_max_num_queries):
    for i in range(10):
        flag(f"acct-more-{i}")
    with django_assert_max_num_queries(14):
        analyst_client.get(reverse("review:cases"))


def test_cases_page_filters_mine(analyst_client, analyst, case):
    flag("acct-not-mine")
    Case.objects.filter(pk=case.pk).update(assignee=analyst)
    body = analyst_client.get(reverse("review:cases"), {"assignee": "me"}).content.decode()
    assert "acct-case" in body
    assert "acct-not-mine" not in body


def test_case_page_shows_items_reasons_timeline_and_history(analyst_client, case, case_items):
    body = analyst_client.get(reverse("review:case", args=[case.pk])).content.decode()
    for item in case_items:
        assert f'id="case-item-{item.pk}"' in body
    assert "new device" in body
    assert "Opened for account acct-case" in body


def test_another_organisations_case_is_not_found(other_organisation, other_analyst, client, case):
    client.force_login(other_analyst)
    work_in(client, other_organisation)
    assert client.get(reverse("review:case", args=[case.pk])).status_code == 404


def test_a_viewer_reads_a_case_but_may_not_add_a_note(client, viewer, case):
    client.force_login(viewer)
    assert client.get(reverse("review:case", args=[case.pk])).status_code == 200
    assert client.post(reverse("review:case_note", args=[case.pk]), {"text": "hi"}).status_code == 403


def test_adding_a_note_shows_it_on_the_case(analyst_client, case):
    response = analyst_client.post(reverse("review:case_note", args=[case.pk]), {"text": "Spoke to the merchant"})
    assert response.status_code == 302
    assert "Spoke to the merchant" in analyst_client.get(reverse("review:case", args=[case.pk])).content.decode()


def test_an_empty_note_is_refused_naming_the_field(analyst_client, case):
    response = analyst_client.post(reverse("review:case_note", args=[case.pk]), {"text": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_an_attachment_is_uploaded_and_downloaded(analyst_client, case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("receipt.txt", b"paid at 10:02")
    assert analyst_client.post(reverse("review:case_attach", args=[case.pk]), {"file": upload}).status_code == 302
    attachment = case.attachments.get()
    response = analyst_client.get(reverse("review:case_attachment", args=[case.pk, attachment.pk]))
    assert b"".join(response.streaming_content) == b"paid at 10:02"
    assert 'filename="receipt.txt"' in response["Content-Disposition"]


def test_an_attachment_over_ten_megabytes_is_refused_with_a_clear_error(analyst_client, case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("huge.bin", b"x" * (10 * 1024 * 1024 + 1))
    response = analyst_client.post(reverse("review:case_attach", args=[case.pk]), {"file": upload})
    assert response.status_code == 413
    assert "larger than the attachment limit of 10 MB" in response.content.decode()
    assert not case.attachments.exists()


def test_deciding_all_from_the_case_page_says_how_many(analyst_client, case):
    response = analyst_client.post(
        reverse("review:case_decide", args=[case.pk]), {"decision": "fraud", "scope": "all"}, follow=True
    )
    assert "Decided fraud: 3 items." in response.content.decode()
    assert ReviewItem.objects.filter(case=case, status="decided").count() == 3


def test_deciding_selected_without_a_selection_names_the_field(analyst_client, case):
    response = analyst_client.post(
        reverse("review:case_decide", args=[case.pk]), {"decision": "fraud", "scope": "selected"}
    )
    assert response.status_code == 400
    assert "Select at least one item" in response.content.decode()


def test_linking_from_the_case_page_with_an_unknown_value_says_so(analyst_client, case):
    response = analyst_client.post(reverse("review:case_link", args=[case.pk]), {"by": "device", "value": "nothing"})
    assert response.status_code == 400
    assert "no item still to be done has device nothing" in response.content.decode()


def test_queue_shows_the_by_case_toggle_and_row_checkboxes(analyst_client, case_items):
    body = analyst_client.get(reverse("review:queue")).content.decode()
    assert reverse("review:cases") in body
    assert f'name="ids" value="{case_items[0].pk}"' in body
    assert 'id="bulk-form"' in body


def test_bulk_close_asks_for_confirmation_saying_how_many(analyst_client, organisation):
    items = bulk_open_items(50, prefix="confirm")
    response = analyst_client.post(reverse("review:bulk"), {"action": "close", "ids": [i.pk for i in items]})
    assert response.status_code == 200
    assert "50 items?" in response.content.decode()
    assert ReviewItem.objects.filter(status="open").count() == 50


def test_bulk_close_confirmed_closes_them_and_says_so(analyst_client, organisation):
    items = bulk_open_items(50, prefix="confirmed")
    response = analyst_client.post(
        reverse("review:bulk"), {"action": "close", "ids": [i.pk for i in items], "confirm": "1"}, follow=True
    )
    assert "Closed 50 items." in response.content.decode()
    assert ReviewItem.objects.filter(status="closed").count() == 50


def test_bulk_on_all_that_match_the_filters_counts_them(analyst_client, organisation):
    bulk_open_items(12, prefix="match")
    response = analyst_client.post(
        reverse("review:bulk"), {"action": "close", "all_matching": "1", "query": "risk=high"}
    )
    assert "12 items?" in response.content.decode()


def test_bulk_leaves_another_organisations_items_alone(client, other_analyst, other_organisation, organisation):
    items = bulk_open_items(3, prefix="theirs")
    client.force_login(other_analyst)
    work_in(client, other_organisation)
    client.post(reverse("review:bulk"), {"action": "close", "ids": [i.pk for i in items], "confirm": "1"})
    assert ReviewItem.objects.filter(status="open").count() == 3


def test_bulk_assign_by_an_analyst_is_refused(analyst_client, second_analyst, organisation):
    items = bulk_open_items(2, prefix="noassign")
    response = analyst_client.post(
        reverse("review:bulk"),
        {"action": "assign", "assignee": second_analyst.pk, "ids": [i.pk for i in items], "confirm": "1"},
        follow=True,
    )
    assert "Only a lead assigns work." in response.content.decode()
    assert not ReviewItem.objects.filter(assignee=second_analyst).exists()


def test_bulk_snooze_without_a_reason_names_the_field(analyst_client, organisation):
    items = bulk_open_items(2, prefix="noreason")
    response = analyst_client.post(
        reverse("review:bulk"),
        {"action": "snooze", "until": "2030-01-01T10:00", "ids": [i.pk for i in items]},
        follow=True,
    )
    assert "Reason: say why." in response.content.decode()


def test_bulk_with_nothing_selected_says_so(analyst_client):
    response = analyst_client.post(reverse("review:bulk"), {"action": "close"}, follow=True)
    assert "Select at least one row" in response.content.decode()


def test_bulk_with_a_bad_id_names_the_rows(analyst_client):
    response = analyst_client.post(reverse("review:bulk"), {"action": "close", "ids": ["x"]}, follow=True)
    assert "Rows: the ids must be whole numbers." in response.content.decode()


def test_a_lead_assigns_a_case_from_its_page(lead_client, analyst, case):
    response = lead_client.post(
        reverse("review:cases_bulk"),
        {
            "action": "assign",
            "assignee": analyst.pk,
            "ids": [case.pk],
            "confirm": "1",
            "next": f"/review/cases/{case.pk}/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/review/cases/{case.pk}/"
    case.refresh_from_db()
    assert case.assignee == analyst


def test_bulk_next_to_another_site_goes_back_to_the_cases_page(lead_client, analyst, case):
    response = lead_client.post(
        reverse("review:cases_bulk"),
        {"action": "release", "ids": [case.pk], "confirm": "1", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("review:cases")
