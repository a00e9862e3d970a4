import io
from datetime import UTC, datetime

import pytest
import time_machine

from core.models import AuditEvent
from rules.lists import imports, services
from rules.lists.imports import UnreadableFile
from rules.models import ListEntry
from tests.factories import ListEntryFactory, ValueListFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def upload(text: str, value_list, **kwargs):
    return services.list_entries_import(value_list=value_list, stream=io.BytesIO(text.encode()), **kwargs)


@time_machine.travel(NOW, tick=False)
def test_bad_rows_are_named_by_row_and_field_and_good_rows_kept(analyst):
    value_list = ValueListFactory(kind="country")
    outcome = upload(
        "value,expires_at,note\n"
        "fr,2027-01-31,seen in a ring\n"
        "Germany,,\n"
        "DE,next week,\n"
        "IT,2020-01-01,\n"
        "ES,," + "n" * 201 + "\n"
        "US\n",
        value_list,
        user=analyst,
        filename="countries.csv",
    )
    assert (outcome.added, outcome.error_count) == (2, 4)
    assert [(e.row, e.field) for e in outcome.errors] == [
        (3, "value"),
        (4, "expires_at"),
        (5, "expires_at"),
        (6, "note"),
    ]
    assert "'Germany' is not an ISO 3166-1 alpha-2" in str(outcome.errors[0])
    assert str(outcome.errors[2]).startswith("row 5, expires_at: '2020-01-01' is already past")
    stored = {e.value: (e.expires_at, e.note) for e in ListEntry.objects.filter(value_list=value_list)}
    assert stored == {"FR": (datetime(2027, 1, 31, tzinfo=UTC), "seen in a ring"), "US": (None, "")}
    event = AuditEvent.objects.get(action="list.entries_import")
    assert (event.actor, event.after["file"], event.after["refused"], event.after["added"]) == (
        analyst,
        "countries.csv",
        4,
        2,
    )


def test_a_file_without_header_is_read_as_value_expiry_note():
    value_list = ValueListFactory(kind="account")
    ListEntryFactory(value_list=value_list, value="acct-1", note="old")
    outcome = upload("acct-1,,new note\nacct-2\n\nacct-3,2099-01-01T10:00:00+02:00\n", value_list)
    assert (outcome.added, outcome.updated, outcome.error_count) == (2, 1, 0)
    stored = {e.value: (e.expires_at, e.note) for e in ListEntry.objects.filter(value_list=value_list)}
    assert stored["acct-1"] == (None, "new note")
    assert stored["acct-3"][0] == datetime(2099, 1, 1, 8, 0, tzinfo=UTC)


def test_a_header_names_its_columns_in_any_order():
    value_list = ValueListFactory(kind="account")
    upload("value,note,source\nacct-1,from the bank,ignored\n", value_list)
    assert ListEntry.objects.get(value_list=value_list).note == "from the bank"


def test_a_row_of_too_many_columns_is_refused():
    value_list = ValueListFactory(kind="account")
    outcome = upload("acct-1,,,extra\n", value_list)
    assert [(e.row, e.field) for e in outcome.errors] == [(1, "row")]


def test_a_value_given_twice_takes_its_last_row():
    value_list = ValueListFactory(kind="account")
    outcome = upload("value,note\nacct-1,first\nacct-1,second\n", value_list)
    assert outcome.added == 1
    assert ListEntry.objects.get(value_list=value_list).note == "second"


def test_a_file_that_is_not_utf8_is_refused_whole():
    value_list = ValueListFactory(kind="account")
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        services.list_entries_import(value_list=value_list, stream=io.BytesIO(b"acct-1\n\xff\xfe\n"))
    assert not ListEntry.objects.exists()


def test_only_the_first_hundred_errors_are_kept_and_all_counted():
    value_list = ValueListFactory(kind="card_bin")
    outcome = upload("\n".join(["12"] * 150 + ["411111"]), value_list)
    assert (outcome.error_count, len(outcome.errors), outcome.added) == (150, 100, 1)


def test_text_is_stored_as_written_backslashes_tabs_and_quotes_included():
    value_list = ValueListFactory(kind="text")
    upload('value,note\nC:\\\\temp\\\\x,"two\tcells"\n"say ""hi""",\n', value_list)
    stored = {e.value: e.note for e in ListEntry.objects.filter(value_list=value_list)}
    assert stored == {"C:\\\\temp\\\\x": "two\tcells", 'say "hi"': ""}


@time_machine.travel(NOW, tick=False)
def test_an_import_into_a_new_list_stores_each_entry_with_its_author_and_time(analyst):
    value_list = ValueListFactory(kind="account")
    outcome = upload(
        "value,expires_at,note\nacct-1,2027-01-31,ring\nacct-2,,\nacct-1,,last row wins\n", value_list, user=analyst
    )
    assert (outcome.added, outcome.updated, outcome.unchanged) == (2, 0, 0)
    stored = {
        e.value: (e.expires_at, e.note, e.created_by, e.created_at)
        for e in ListEntry.objects.filter(value_list=value_list)
    }
    assert stored == {"acct-1": (None, "last row wins", analyst, NOW), "acct-2": (None, "", analyst, NOW)}


def test_an_import_into_a_list_with_entries_adds_updates_and_leaves_the_rest(analyst):
    value_list = ValueListFactory(kind="account")
    ListEntryFactory(value_list=value_list, value="acct-1", note="same")
    ListEntryFactory(value_list=value_list, value="acct-2", note="old")
    outcome = upload("acct-1,,same\nacct-2,,new\nacct-3\n", value_list, user=analyst)
    assert (outcome.added, outcome.updated, outcome.unchanged) == (1, 1, 1)
    stored = {e.value: (e.note, e.created_by) for e in ListEntry.objects.filter(value_list=value_list)}
    assert stored["acct-2"][0] == "new" and stored["acct-3"] == ("", analyst)
    assert ListEntry.objects.filter(value_list=value_list).count() == 3


def test_a_value_read_again_after_it_was_stored_takes_its_last_row(monkeypatch, analyst):
    monkeypatch.setattr(imports, "PAUSE_ROWS", 2)  # stored every two rows, while the rest is read
    value_list = ValueListFactory(kind="account")
    outcome = upload(
        "acct-1,,first\nacct-2\nacct-3\nacct-4\nacct-1,2099-01-01,last\nacct-5\n", value_list, user=analyst
    )
    assert (outcome.added, outcome.updated, outcome.unchanged) == (5, 0, 0)
    stored = {e.value: (e.expires_at, e.note) for e in ListEntry.objects.filter(value_list=value_list)}
    assert stored["acct-1"] == (datetime(2099, 1, 1, tzinfo=UTC), "last")
    assert sorted(stored) == ["acct-1", "acct-2", "acct-3", "acct-4", "acct-5"]


def test_a_file_unreadable_after_rows_were_stored_leaves_the_list_as_it_was(monkeypatch):
    monkeypatch.setattr(imports, "PAUSE_ROWS", 2)
    value_list = ValueListFactory(kind="account")
    good = "".join(f"acct-{n}\n" for n in range(3000)).encode()  # past the reader's first block of bytes
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        services.list_entries_import(value_list=value_list, stream=io.BytesIO(good + b"\xff\xfe\n"))
    assert not ListEntry.objects.filter(value_list=value_list).exists()
