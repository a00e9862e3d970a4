import pytest
from rest_framework.test import APIClient

from accounts.services import partner_token_create
from core.models import AuditEvent
from rules.models import ListEntry, ValueList
from tests.factories import ListEntryFactory, ValueListFactory

pytestmark = pytest.mark.django_db
LISTS = "/api/v1/lists"


def token_client(organisation, scopes=("lists",)) -> APIClient:
    _, secret = partner_token_create(name="list-keeper", scopes=list(scopes), organisation=organisation)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def lists_client(organisation):
    return token_client(organisation)


@pytest.fixture
def other_lists_client(other_organisation):
    return token_client(other_organisation)


def entries_url(name: str) -> str:
    return f"{LISTS}/{name}/entries"


def test_a_token_creates_a_list_audited_under_its_name(lists_client, organisation):
    response = lists_client.post(LISTS, {"name": "blocked_merchants", "kind": "merchant"}, format="json")
    assert response.status_code == 201
    assert response.json() | {"created_at": None, "updated_at": None} == {
        "name": "blocked_merchants",
        "kind": "merchant",
        "description": "",
        "revision": 1,
        "entry_count": 0,
        "created_at": None,
        "updated_at": None,
    }
    assert ValueList.objects.get().organisation == organisation
    assert AuditEvent.objects.get(action="list.create").actor_label == "partner:list-keeper"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad Name", "kind": "merchant"}, "name"),
        ({"name": "ok", "kind": "planet"}, "kind"),
        ({"kind": "merchant"}, "name"),
    ],
)
def test_create_answers_400_naming_the_field(lists_client, body, field):
    response = lists_client.post(LISTS, body, format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not ValueList.objects.exists()


def test_a_taken_name_answers_400(lists_client):
    ValueListFactory(name="vip")
    response = lists_client.post(LISTS, {"name": "vip", "kind": "account"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0] | {"reason": ""} == {"field": "name", "code": "unique", "reason": ""}


def test_the_listing_shows_only_the_organisations_lists(lists_client, other_organisation, django_assert_num_queries):
    mine = ValueListFactory(name="mine")
    ListEntryFactory(value_list=mine)
    ValueListFactory(name="theirs", organisation=other_organisation)
    with django_assert_num_queries(2):  # the token, the lists with their counts
        response = lists_client.get(LISTS)
    assert response.status_code == 200
    assert [(item["name"], item["entry_count"]) for item in response.json()] == [("mine", 1)]


def test_a_token_without_the_scope_is_refused(partner_client):
    ValueListFactory(name="mine")
    assert partner_client.get(LISTS).status_code == 403
    assert partner_client.post(LISTS, {"name": "x", "kind": "text"}, format="json").status_code == 403
    assert partner_client.get(entries_url("mine")).status_code == 403
    assert partner_client.post(entries_url("mine"), {"values": ["a"]}, format="json").status_code == 403
    assert not ListEntry.objects.exists()


def test_add_normalises_and_counts(lists_client):
    value_list = ValueListFactory(name="countries", kind="country")
    response = lists_client.post(
        entries_url("countries"),
        {"values": ["fr", "DE"], "expires_at": "2099-01-01T00:00:00Z", "note": "ring"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"added": 2, "updated": 0, "unchanged": 0, "removed": 0, "revision": 1}
    assert sorted(ListEntry.objects.filter(value_list=value_list).values_list("value", "note")) == [
        ("DE", "ring"),
        ("FR", "ring"),
    ]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"values": ["FR", "Narnia"]}, "values.1", "'Narnia' is not an ISO 3166-1"),
        ({"values": []}, "values", ""),
        ({"values": "FR"}, "values", ""),
        ({"values": ["FR"], "expires_at": "soon"}, "expires_at", ""),
        ({"values": ["FR"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "already past"),
        ({"values": ["FR"], "note": "n" * 201}, "note", ""),
    ],
)
def test_bad_entries_answer_400_naming_the_field(lists_client, body, field, words):
    ValueListFactory(name="countries", kind="country")
    response = lists_client.post(entries_url("countries"), body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert words in errors[0]["reason"]
    assert not ListEntry.objects.exists()


def test_delete_removes_the_values(lists_client):
    value_list = ValueListFactory(name="accounts", kind="account")
    ListEntryFactory(value_list=value_list, value="a1")
    ListEntryFactory(value_list=value_list, value="a2")
    response = lists_client.delete(entries_url("accounts"), {"values": ["a1", "zz"]}, format="json")
    assert response.status_code == 200
    assert response.json() | {"revision": 0} == {"added": 0, "updated": 0, "unchanged": 1, "removed": 1, "revision": 0}
    assert list(ListEntry.objects.values_list("value", flat=True)) == ["a2"]


def test_entries_are_paged_and_searched(lists_client, django_assert_num_queries):
    value_list = ValueListFactory(name="accounts", kind="account")
    for value in ("acct-1", "acct-2", "acct-3", "merch-x"):
        ListEntryFactory(value_list=value_list, value=value)
    with django_assert_num_queries(3):  # the token, the list, the page
        first = lists_client.get(entries_url("accounts"), {"search": "ACCT", "limit": 2})
    assert first.status_code == 200
    assert [e["value"] for e in first.json()["results"]] == ["acct-1", "acct-2"]
    second = lists_client.get(first.json()["next"])
    assert [e["value"] for e in second.json()["results"]] == ["acct-3"]
    assert second.json()["next"] is None


def test_another_organisations_list_answers_404(other_lists_client):
    value_list = ValueListFactory(name="accounts", kind="account")
    ListEntryFactory(value_list=value_list, value="secret-acct")
    assert other_lists_client.get(entries_url("accounts")).status_code == 404
    assert other_lists_client.post(entries_url("accounts"), {"values": ["x"]}, format="json").status_code == 404
    assert (
        other_lists_client.delete(entries_url("accounts"), {"values": ["secret-acct"]}, format="json").status_code
        == 404
    )
    assert other_lists_client.get(LISTS).json() == []
    assert list(ListEntry.objects.values_list("value", flat=True)) == ["secret-acct"]


def test_people_read_their_organisations_lists_and_change_them_on_the_pages(client, analyst, outsider):
    ValueListFactory(name="accounts", kind="account")
    client.force_login(analyst)
    assert client.get(LISTS).status_code == 200
    assert client.get(entries_url("accounts")).status_code == 200
    refused = client.post(entries_url("accounts"), {"values": ["x"]}, content_type="application/json")
    assert refused.status_code == 403
    client.force_login(outsider)
    assert client.get(LISTS).status_code == 403


def test_without_credentials_401(api_client):
    assert api_client.get(LISTS).status_code == 401
