"""Changes of lists: create, add and remove entries, import a CSV, delete. Each one bumps the list's revision,
is in the audit trail with who and when, and, once committed, tells every process to read the list again
(`lookup.lists_changed`). Values are normalised by the list's kind (rules.lists.values) before they are stored.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.audit import audit_record, audit_snapshot
from rules.lists.imports import ReadFile, RowError, entries_read_chunks
from rules.lists.lookup import lists_changed
from rules.lists.selectors import list_readers
from rules.lists.upsert import entries_upsert, entries_upsert_read
from rules.lists.values import InvalidValue, normalise
from rules.models import ListEntry, ValueList

__all__ = [
    "EntriesOutcome",
    "ListRefused",
    "RowError",
    "list_entries_add",
    "list_entries_import",
    "list_entries_remove",
    "value_list_create",
    "value_list_delete",
]

NOTE_MAX = ListEntry._meta.get_field("note").max_length
RESERVED_NAMES = {"new"}  # /rules/lists/new/ is the page that creates a list
AUDITED_VALUES = 100  # values named in an audit event; the rest are counted


@dataclass
class ListRefused(Exception):
    """A change refused: `field` names what is wrong (name, kind, values.3, expires_at, …) and `reason` why."""

    field: str
    reason: str
    code: str = "invalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass
class EntriesOutcome:
    added: int = 0
    updated: int = 0  # re-added with another expiry or note
    unchanged: int = 0
    removed: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0


# `user` below is whoever changes: a person, or a partner token's principal (audited by its name, no author row).


def _changed(value_list: ValueList) -> None:
    """Bump the list's revision (in the row and the instance) and tell every process after commit."""
    ValueList.objects.filter(pk=value_list.pk).update(revision=F("revision") + 1, updated_at=timezone.now())
    value_list.refresh_from_db(fields=["revision", "updated_at"])
    organisation_id = value_list.organisation_id
    transaction.on_commit(lambda: lists_changed(organisation_id))


def _locked(value_list: ValueList) -> ValueList:
    """The list's row, locked until commit: changes of one list are made one after the other."""
    return ValueList.objects.select_for_update().get(pk=value_list.pk)


@transaction.atomic
def value_list_create(*, organisation_id: int, name: str, kind: str, description: str = "", user=None) -> ValueList:
    """A new, empty list of the organisation; ListRefused naming the field for a bad or taken name or kind."""
    value_list = ValueList(
        organisation_id=organisation_id,
        name=name,
        kind=kind,
        description=description.strip(),
        created_by=user if getattr(user, "pk", None) else None,
    )
    if name in RESERVED_NAMES:
        raise ListRefused("name", f"{name!r} is a word of the lists pages' addresses; choose another name.")
    try:
        value_list.full_clean(validate_constraints=False)
    except ValidationError as exc:
        field_name, messages = next(iter(exc.message_dict.items()))
        raise ListRefused(field_name, " ".join(messages)) from None
    try:
        with transaction.atomic():
            value_list.save()
    except IntegrityError:
        raise ListRefused("name", f"The organisation already has a list named {name!r}.", "unique") from None
    _changed(value_list)
    audit_record(
        action="list.create", obj=value_list, actor=user, after={"name": name, "kind": kind, "description": description}
    )
    return value_list


def values_normalised(*, kind: str, values: Sequence, field_name: str = "values") -> list[str]:
    """The values as the list stores them, each once, in the order given; ListRefused naming the first bad one
    (`values.<index>`)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ListRefused(field_name, "A non-empty list of values is required.")
    out: dict[str, None] = {}
    for index, raw in enumerate(values):
        try:
            out[normalise(kind, raw)] = None
        except InvalidValue as exc:
            raise ListRefused(f"{field_name}.{index}", str(exc)) from None
    return list(out)


def _expiry_checked(expires_at: datetime | None) -> datetime | None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ListRefused("expires_at", f"{expires_at.isoformat()} is already past.")
    return expires_at


@transaction.atomic
def list_entries_add(
    *, value_list: ValueList, values: Sequence, expires_at: datetime | None = None, note: str = "", user=None
) -> EntriesOutcome:
    """Add the values (normalised by the list's kind) with the expiry and note; a value already there takes them."""
    normalised = values_normalised(kind=value_list.kind, values=values)
    expires_at, note = _expiry_checked(expires_at), (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ListRefused("note", f"{len(note)} characters; at most {NOTE_MAX}.")
    value_list = _locked(value_list)
    added, updated = entries_upsert(
        value_list_id=value_list.pk,
        entries=[(value, expires_at, note) for value in normalised],
        user_id=getattr(user, "pk", None),
    )
    outcome = EntriesOutcome(added=added, updated=updated, unchanged=len(normalised) - added - updated)
    _changed(value_list)
    audit_record(
        action="list.entries_add",
        obj=value_list,
        actor=user,
        after=_audited(normalised, outcome, expires_at=expires_at, note=note),
    )
    return outcome


@transaction.atomic
def list_entries_remove(*, value_list: ValueList, values: Sequence, user=None) -> EntriesOutcome:
    """Remove the values (normalised by the list's kind); a value not in the list is no error."""
    normalised = values_normalised(kind=value_list.kind, values=values)
    value_list = _locked(value_list)
    removed, _ = ListEntry.objects.filter(value_list=value_list, value__in=normalised).delete()
    outcome = EntriesOutcome(removed=removed, unchanged=len(normalised) - removed)
    _changed(value_list)
    audit_record(action="list.entries_remove", obj=value_list, actor=user, after=_audited(normalised, outcome))
    return outcome


@transaction.atomic
def list_entries_import(*, value_list: ValueList, stream: IO[bytes], user=None, filename: str = "") -> EntriesOutcome:
    """A CSV's entries (value[,expires_at][,note]) into the list, stored while the file is read: good rows are
    written, bad ones reported by row and field. UnreadableFile when it is not a CSV of UTF-8 text (nothing is
    written)."""
    value_list = _locked(value_list)
    read = ReadFile()
    reading = entries_read_chunks(stream=stream, kind=value_list.kind, now=timezone.now(), read=read)
    added, updated = entries_upsert_read(
        value_list_id=value_list.pk, read=read, reading=reading, user_id=getattr(user, "pk", None)
    )
    outcome = EntriesOutcome(
        added=added,
        updated=updated,
        unchanged=len(read.entries) - added - updated,
        errors=read.errors,
        error_count=read.error_count,
    )
    _changed(value_list)
    after = _audited(list(read.entries), outcome) | {"file": filename, "rows": read.rows, "refused": read.error_count}
    audit_record(action="list.entries_import", obj=value_list, actor=user, after=after)
    return outcome


@transaction.atomic
def value_list_delete(*, value_list: ValueList, user=None) -> None:
    """Delete the list and its entries; refused while an active rule reads it."""
    value_list = _locked(value_list)
    readers = list_readers(value_list=value_list)
    if readers:
        names = ", ".join(readers)
        raise ListRefused(
            "name", f"The active rule(s) {names} read lists.{value_list.name}: disable them first.", "in_use"
        )
    before = {"name": value_list.name, "kind": value_list.kind, "entries": value_list.entries.count()}
    organisation_id, pk = value_list.organisation_id, value_list.pk
    value_list.delete()
    value_list.pk = pk
    audit_record(action="list.delete", obj=value_list, actor=user, before=before, organisation_id=organisation_id)
    transaction.on_commit(lambda: lists_changed(organisation_id))


def _audited(values: list[str], outcome: EntriesOutcome, **given) -> dict:
    counts = {k: getattr(outcome, k) for k in ("added", "updated", "unchanged", "removed") if getattr(outcome, k)}
    return {"values": values[:AUDITED_VALUES], "count": len(values), **counts, **given}


@transaction.atomic
def value_list_save(*, value_list: ValueList, user=None, created: bool = False) -> ValueList:
    """Save a list edited as a whole (in admin): its name or description; audited, its revision bumped."""
    before = None if created else audit_snapshot(ValueList.objects.get(pk=value_list.pk), exclude=("revision",))
    if created:
        value_list.created_by = user if getattr(user, "pk", None) else None
    value_list.save()
    _changed(value_list)
    after = audit_snapshot(value_list, exclude=("revision",))
    audit_record(
        action="list.create" if created else "list.change", obj=value_list, actor=user, before=before, after=after
    )
    return value_list


@transaction.atomic
def list_entry_save(*, entry: ListEntry, user=None) -> ListEntry:
    """Save one entry edited as a whole (in admin), its value normalised by its list's kind; InvalidValue else."""
    value_list = _locked(entry.value_list)
    entry.value = normalise(value_list.kind, entry.value)
    created = entry.pk is None
    if created:
        entry.created_by = user if getattr(user, "pk", None) else None
    entry.save()
    _changed(value_list)
    after = {"values": [entry.value], "expires_at": entry.expires_at, "note": entry.note}
    audit_record(action="list.entries_add" if created else "list.entry_change", obj=value_list, actor=user, after=after)
    return entry


@transaction.atomic
def list_entry_delete(*, entry: ListEntry, user=None) -> None:
    value_list = _locked(entry.value_list)
    entry.delete()
    _changed(value_list)
    audit_record(action="list.entries_remove", obj=value_list, actor=user, after={"values": [entry.value], "count": 1})
