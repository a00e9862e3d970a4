import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from rules.models import ListEntry, Rule, RuleVersion, ValueList
from tests.factories import ListEntryFactory, ValueListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def publisher(client, analyst):
    """An analyst who holds rules.publish: may change lists, as admins do."""
    analyst.user_permissions.add(Permission.objects.get(codename="publish", content_type__app_label="rules"))
    client.force_login(analyst)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def detail(name: str) -> str:
    return reverse("rules:list_detail", kwargs={"name": name})


def test_the_index_shows_the_organisations_lists_in_constant_queries(
    analyst_client, other_organisation, django_assert_num_queries
):
    for index in range(3):
        value_list = ValueListFactory(name=f"list_{index}", description="matters")
        ListEntryFactory.create_batch(index, value_list=value_list)
    ValueListFactory(name="theirs", organisation=other_organisation)
    analyst_client.get(reverse("rules:list_index"))  # warms the session's organisation
    # The site's own six (session, user, organisation, two of permissions, the organisation chooser), the lists.
    with django_assert_num_queries(7):
        response = analyst_client.get(reverse("rules:list_index"))
    assert response.status_code == 200
    assert [v.name for v in response.context["lists"]] == ["list_0", "list_1", "list_2"]
    assert [v.entry_count for v in response.context["lists"]] == [0, 1, 2]
    assert b"theirs" not in response.content
    assert b"New list" not in response.content  # an analyst reads


def test_people_without_a_role_are_refused(client, outsider):
    ValueListFactory(name="blocked")
    client.force_login(outsider)
    assert client.get(reverse("rules:list_index")).status_code == 403
    assert client.get(detail("blocked")).status_code == 403


def test_the_list_page_pages_its_entries_in_constant_queries(analyst_client, django_assert_num_queries):
    value_list = ValueListFactory(name="accounts", kind="account")
    ListEntry.objects.bulk_create(ListEntry(value_list=value_list, value=f"acct-{i:03d}") for i in range(120))
    analyst_client.get(detail("accounts"))
    with django_assert_num_queries(9):  # the site's own six, the list, the count, the page
        response = analyst_client.get(detail("accounts"), {"page": 2})
    assert response.status_code == 200
    assert [e.value for e in response.context["page"].object_list][:2] == ["acct-050", "acct-051"]


def test_search_answers_htmx_with_the_entries_partial(analyst_client):
    value_list = ValueListFactory(name="accounts", kind="account")
    ListEntryFactory(value_list=value_list, value="acct-1")
    ListEntryFactory(value_list=value_list, value="other", note="ACCT ring")
    ListEntryFactory(value_list=value_list, value="zzz")
    response = analyst_client.get(detail("accounts"), {"search": "acct"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<section class="card" id="entries-table">')
    assert 'data-value="acct-1"' in content and 'data-value="other"' in content
    assert 'data-value="zzz"' not in content


def test_another_organisations_list_is_404(client, other_analyst):
    ValueListFactory(name="blocked")
    client.force_login(other_analyst)
    assert client.get(detail("blocked")).status_code == 404
    assert client.get(reverse("rules:list_download", kwargs={"name": "blocked"})).status_code == 404


def test_another_organisations_admin_cannot_change_the_list(other_admin_client):
    value_list = ValueListFactory(name="blocked", kind="account")
    url = reverse("rules:list_entries_add", kwargs={"name": "blocked"})
    assert other_admin_client.post(url, {"values": "acct-1"}).status_code == 404
    assert not ListEntry.objects.filter(value_list=value_list).exists()


def test_analysts_may_not_change_lists(analyst_client):
    ValueListFactory(name="blocked", kind="account")
    assert analyst_client.get(reverse("rules:list_new")).status_code == 403
    add = reverse("rules:list_entries_add", kwargs={"name": "blocked"})
    assert analyst_client.post(add, {"values": "acct-1"}).status_code == 403
    assert not ListEntry.objects.exists()


def test_a_holder_of_rules_publish_creates_a_list(publisher, organisation):
    response = publisher.post(reverse("rules:list_new"), {"name": "vip", "kind": "account", "description": "Ours"})
    assert response.status_code == 302
    assert response["Location"] == detail("vip")
    assert ValueList.objects.get(name="vip").organisation == organisation


@pytest.mark.parametrize(
    ("body", "field"), [({"name": "Bad!", "kind": "account"}, "name"), ({"name": "new", "kind": "account"}, "name")]
)
def test_a_bad_list_is_refused_on_the_form(admin_client_, body, field):
    response = admin_client_.post(reverse("rules:list_new"), body)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not ValueList.objects.exists()


def test_an_admin_adds_entries_and_a_bad_value_is_named(admin_client_):
    value_list = ValueListFactory(name="countries", kind="country")
    url = reverse("rules:list_entries_add", kwargs={"name": "countries"})
    response = admin_client_.post(url, {"values": "fr, de\nit", "note": "risky"})
    assert response.status_code == 302
    assert sorted(ListEntry.objects.filter(value_list=value_list).values_list("value", flat=True)) == ["DE", "FR", "IT"]
    refused = admin_client_.post(url, {"values": "ES\nSpain"})
    assert refused.status_code == 400
    assert "'Spain' is not an ISO 3166-1" in refused.context["add_form"].errors["values"][0]
    assert not ListEntry.objects.filter(value="ES").exists()


def test_remove_answers_htmx_by_dropping_the_row(admin_client_):
    value_list = ValueListFactory(name="accounts", kind="account")
    ListEntryFactory(value_list=value_list, value="acct-1")
    url = reverse("rules:list_entry_remove", kwargs={"name": "accounts"})
    response = admin_client_.post(url, {"value": "acct-1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'hx-swap-oob="true">acct-1 removed.' in response.content.decode()
    assert not ListEntry.objects.exists()


def test_an_upload_keeps_good_rows_and_names_the_bad_ones(admin_client_):
    value_list = ValueListFactory(name="bins", kind="card_bin")
    upload = SimpleUploadedFile("bins.csv", b"value,note\n411111,visa\n12,short\n55555555,\n", content_type="text/csv")
    response = admin_client_.post(reverse("rules:list_upload", kwargs={"name": "bins"}), {"file": upload}, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert shown[0].startswith("bins.csv: 2 added, 0 updated, 0 unchanged; 1 row refused")
    assert shown[1].startswith("row 3, value: '12' is not a card BIN")
    assert sorted(ListEntry.objects.filter(value_list=value_list).values_list("value", flat=True)) == [
        "411111",
        "55555555",
    ]


def test_an_upload_that_is_not_utf8_is_refused_on_the_form(admin_client_):
    ValueListFactory(name="bins", kind="card_bin")
    upload = SimpleUploadedFile("bins.csv", b"\xff\xfe4\x001\x00", content_type="text/csv")
    response = admin_client_.post(reverse("rules:list_upload", kwargs={"name": "bins"}), {"file": upload})
    assert response.status_code == 400
    assert "not UTF-8" in response.context["upload_form"].errors["file"][0]


def test_the_download_is_a_csv_with_formulas_neutralised(analyst_client):
    value_list = ValueListFactory(name="notes", kind="text")
    ListEntryFactory(value_list=value_list, value="=HYPERLINK(1)", note="+bad")
    ListEntryFactory(value_list=value_list, value="plain")
    response = analyst_client.get(reverse("rules:list_download", kwargs={"name": "notes"}))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="notes.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [["value", "expires_at", "note"], ["'=HYPERLINK(1)", "", "'+bad"], ["plain", "", ""]]


def test_a_list_an_active_rule_reads_is_not_deleted(admin_client_, organisation):
    ValueListFactory(name="blocked")
    rule = Rule.objects.create(organisation=organisation, name="stop_them")
    RuleVersion.objects.create(
        rule=rule, version=1, expression="merchant_id in lists.blocked", action="block", status="active"
    )
    response = admin_client_.post(reverse("rules:list_delete", kwargs={"name": "blocked"}), follow=True)
    assert "stop_them" in str(list(response.context["messages"])[0])
    assert ValueList.objects.filter(name="blocked").exists()
    rule.versions.update(status="disabled")
    response = admin_client_.post(reverse("rules:list_delete", kwargs={"name": "blocked"}))
    assert response["Location"] == reverse("rules:list_index")
    assert not ValueList.objects.filter(name="blocked").exists()


def test_the_navigation_links_to_lists(analyst_client):
    response = analyst_client.get(reverse("rules:list_index"))
    assert f'href="{reverse("rules:list_index")}">Lists</a>' in response.content.decode()
