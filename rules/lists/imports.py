"""A CSV of list entries read into normalised entries and the rows refused: columns value[,expires_at][,note].

The first row is a header when its first cell is `value` (then columns are found by name), else data in that
order. A bad row is named by its line number and field and the others are kept; a value given twice takes its
last row.
"""

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import IO

from django.utils.dateparse import parse_date, parse_datetime

from rules.lists.values import CHECKED_KINDS, MAX_LENGTH, InvalidValue, normalise
from rules.models import ListEntry

COLUMNS = ("value", "expires_at", "note")
NOTE_MAX = ListEntry._meta.get_field("note").max_length
HEADERLESS = {name: index for index, name in enumerate(COLUMNS)}
ERRORS_KEPT = 100
PAUSE_ROWS = 50_000  # rows read between two pauses, where what was read is stored while the rest is read


@dataclass(frozen=True)
class RowError:
    row: int  # the line of the file, the header's being 1
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.reason}"


@dataclass
class ReadFile:
    entries: dict[str, tuple[datetime | None, str]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)  # the first ERRORS_KEPT
    error_count: int = 0
    rows: int = 0
    fresh: list[str] = field(default_factory=list)  # the values in the order first read
    repeated: set[str] = field(default_factory=set)  # the values read more than once

    def refuse(self, row: int, column: str, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(RowError(row, column, reason))


class UnreadableFile(ValueError):
    """Not a CSV of UTF-8 text."""


def parse_expiry(text: str, *, now: datetime) -> datetime | None:
    """An ISO 8601 date or time (UTC when it has no offset; a date is its midnight); None for blank text. Raises
    ValueError saying why for anything else, or a time already past."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = datetime.combine(day, time(), tzinfo=UTC) if day is not None else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"{text!r} is not a date or time (ISO 8601, such as 2027-01-31 or 2027-01-31T18:00:00Z).")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise ValueError(f"{text!r} is already past.")
    return moment


def entries_read_chunks(*, stream: IO[bytes], kind: str, now: datetime, read: ReadFile) -> Iterator[None]:
    """Every row of the file into `read`, normalised for a list of `kind`, or refused with its row and field;
    pausing (a yield) after about every PAUSE_ROWS rows, so the caller can store what was read so far (`read.fresh`)
    while the rest is read."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        rows = csv.reader(text)
        first = next(rows, None)
        if first is None:
            return
        positions = _header(first)
        if positions is None:
            positions = HEADERLESS
            rows = itertools.chain([first], rows)
        yield from _read_rows(
            read, enumerate(rows, start=1 if positions is HEADERLESS else 2), positions, kind, now, PAUSE_ROWS
        )
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"The file is not UTF-8 text (after row {read.rows}): {exc.reason}.") from exc
    except csv.Error as exc:
        raise UnreadableFile(f"The file is not a CSV file: {exc}.") from exc
    finally:
        text.detach()  # the caller's stream stays open


def _header(first: list[str]) -> dict[str, int] | None:
    """Where each known column is, when the first row is a header (its other columns are not read)."""
    names = [cell.strip().lower() for cell in first]
    if not names or names[0] != "value":
        return None
    return {name: index for index, name in enumerate(names) if name in COLUMNS}


def _read_rows(read: ReadFile, rows, positions: dict[str, int], kind: str, now: datetime, every: int) -> Iterator[None]:
    """One tight loop: a million rows' cost is this loop's."""
    at_value, at_expiry, at_note = (positions.get(name, 99) for name in COLUMNS)
    widest = len(COLUMNS) if positions is HEADERLESS else 1_000_000
    entries, refuse, fresh = read.entries, read.refuse, read.fresh
    plain = kind not in CHECKED_KINDS  # text as given, without surrounding spaces: checked inline
    pause = every
    for line, row in rows:
        if line >= pause:
            pause = line + every
            yield
        width = len(row)
        if width == 1 and at_value == 0:  # the common row: a value alone
            raw, expiry, note = row[0], "", ""
        elif width == 0 or (width == 1 and not row[0].strip()):
            continue  # a blank line
        elif width > widest:
            read.rows += 1
            refuse(line, "row", f"{width} columns; at most 3 (value, expires_at, note).")
            continue
        else:
            raw = row[at_value] if at_value < width else ""
            expiry = row[at_expiry] if at_expiry < width else ""
            note = row[at_note].strip() if at_note < width else ""
        read.rows += 1
        value = raw.strip() if plain else ""
        if not (value and len(value) <= MAX_LENGTH and value.isprintable()):  # else normalise, or say why not
            try:
                value = normalise(kind, raw)
            except InvalidValue as exc:
                refuse(line, "value", str(exc))
                continue
        if expiry:
            try:
                expiry = parse_expiry(expiry, now=now)
            except ValueError as exc:
                refuse(line, "expires_at", str(exc))
                continue
        if len(note) > NOTE_MAX:
            refuse(line, "note", f"{len(note)} characters; at most {NOTE_MAX}.")
            continue
        if value in entries:
            read.repeated.add(value)
        else:
            fresh.append(value)
        entries[value] = (expiry or None, note)
