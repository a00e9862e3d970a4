"""Windowed aggregates over rows grouped by a key and ordered by (ts, row_id), with numpy only.

Rows are sorted by (group, ts, row_id). A row's window of width W holds the rows of its group that come strictly
before it in (ts, row_id) order with ts >= its ts - W. Start positions come from one searchsorted on a composite
integer key; sums come from cumulative sums of integers, so a window's sum is exact and does not depend on which
other rows are in the batch (the single-transaction path and the batch path give identical results).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detection.engine.kernels import known_counts, window_matches

_DENSE_ABOVE = 1 << 31  # codes * span (seconds, under 2**31 for decades) must stay within int64


def codes_of(*columns: np.ndarray) -> np.ndarray:
    """Dense int64 codes for the combination of one or more columns."""
    return combine_codes([factorized(column) for column in columns])


def factorized(column: np.ndarray | pd.Categorical) -> np.ndarray:
    """Integer codes, equal where the values are equal; a categorical's own codes (``Frame`` keeps no -1 in them).

    Integers spanning no more values than there are rows (an hour-of-day bucket, say) are their own codes, shifted
    to start at 0: as dense as factorizing would make them, for a tenth of its time.
    """
    if isinstance(column, pd.Categorical):
        return column.codes.astype(np.int64)
    if column.dtype.kind in "iu" and len(column):
        low, high = int(column.min()), int(column.max())
        if high - low < len(column):
            return column.astype(np.int64) - low
    return pd.factorize(column)[0].astype(np.int64)


def combine_codes(codes: list[np.ndarray]) -> np.ndarray:
    """Dense codes of the combination of columns already turned into dense codes."""
    combined = codes[0]
    for other in codes[1:]:
        low = min(int(other.min(initial=0)), 0)  # pandas codes a missing value -1: shifted, or (a, -1) is (a - 1, top)
        combined = combined * (int(other.max(initial=0)) - low + 1) + (other - low)
        # Codes only order the rows; they are made dense again only when they grow too large to key by time.
        if int(combined.max(initial=0)) >= _DENSE_ABOVE:
            combined = pd.factorize(combined)[0].astype(np.int64)
    return combined


def stable_order(codes: np.ndarray) -> np.ndarray:
    """The stable argsort of integer codes, by 16-bit digits (least significant first).

    numpy sorts 16-bit integers stably by radix in linear time, several times faster than its stable sort of int64
    (a merge sort); the order is the same, since each pass keeps the order of the previous one among equal digits.
    Codes below zero (pandas codes a missing value -1) are shifted up first, so they still sort first.
    """
    low = int(codes.min(initial=0))
    if low < 0:
        codes = codes - low
    top = int(codes.max(initial=0))
    order = np.argsort((codes & 0xFFFF).astype(np.uint16), kind="stable")
    shift = 16
    while top >> shift:
        digit = ((codes[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
    return order


def time_order(ts: np.ndarray, row_id: np.ndarray) -> np.ndarray:
    """Positions of the rows sorted by (ts, row_id), as ``np.lexsort((row_id, ts))`` gives them.

    Both packed into one int64 key when they fit (times within decades, ids within billions) and sorted once,
    instead of lexsort's two passes over a batch's history.
    """
    if not len(ts):
        return np.zeros(0, dtype=np.int64)
    t, r = ts - ts.min(), row_id - row_id.min()
    bits = int(r.max()).bit_length()
    if int(t.max()).bit_length() + bits > 62:
        return np.lexsort((row_id, ts))
    return np.argsort((t << bits) | r, kind="stable")


def _in_targets_groups(parts: list[np.ndarray], targets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether each of ``rows`` has, in every part, a value some target has: the targets' groups' rows and, for a
    combination, those of the targets' values crossed (which group nothing with a target, so cost only their sort).

    One lookup table per part, each as long as that part's codes are many: the combined codes' range is their
    product, and a table that long costs a page fault per target written and per row read.
    """
    kept = None
    for codes in parts:
        low = min(int(codes.min(initial=0)), 0)  # a missing value's code may be -1
        present = np.zeros(int(codes.max(initial=0)) - low + 1, dtype=bool)
        present[codes[targets] - low] = True
        found = present[codes[rows] - low]
        kept = found if kept is None else kept & found
    return kept


class Grouping:
    """Rows of the targets' groups sorted by (group code, ts, row_id); positions of the targets in that order.

    Methods taking ``values`` read one value per frame row (rows outside the targets' groups are never read).
    """

    def __init__(
        self,
        codes: np.ndarray,
        ts: np.ndarray,
        rows_in_order: np.ndarray,
        targets: np.ndarray,
        span: int,
        parts: list[np.ndarray] | None = None,
    ):
        """``rows_in_order``: the rows to group, in an order that a stable sort by ``codes`` turns into (code, ts,
        row_id) order: every row of the frame in (ts, row_id) order, or the ``order`` of a grouping whose groups
        ``codes`` only divide further (a row's (account, merchant) group lies within its account's).
        ``parts``: the dense codes ``codes`` combine (default: ``codes`` itself) that the targets' groups are found
        by; a part that every row of ``rows_in_order`` already shares with a target may be left out.
        """
        if len(targets) < len(rows_in_order):
            # Only the targets' groups can fall in their windows: a batch's frame also holds the other accounts
            # (or merchants) of the merchants' (or accounts') histories, which this grouping need not sort or sum.
            kept = _in_targets_groups(parts or [codes], targets, rows_in_order)
            if not kept.all():
                rows_in_order = rows_in_order[kept]
        ordered = codes[rows_in_order]
        self.order = rows_in_order[stable_order(ordered)]
        self.ts = ts[self.order]
        self.key = codes[self.order] * span + self.ts
        self.tpos = np.empty(len(codes), dtype=np.int64)
        self.tpos[self.order] = np.arange(len(self.order))
        self.tpos = self.tpos[targets]
        self.t = self.ts[self.tpos]
        # Targets in this grouping's order: their keys ascend, and searchsorted finds ascending keys several times
        # faster than scattered ones (each search starts near the previous one).
        self._by_position = stable_order(self.tpos)
        self._sorted_keys = self.key[self.tpos[self._by_position]]
        self._events: dict[tuple[int, int], tuple] = {}

    def start(self, window: int) -> np.ndarray:
        """First position of each target's window [ts - window, ts]."""
        start = np.empty(len(self.tpos), dtype=np.int64)
        start[self._by_position] = np.searchsorted(self.key, self._sorted_keys - window, side="left")
        return start

    def count(self, start: np.ndarray) -> np.ndarray:
        return self.tpos - start

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """Cumulative sums (with a leading 0) of integer values taken in this grouping's order."""
        sums = np.zeros(len(self.order) + 1, dtype=np.int64)
        np.cumsum(values[self.order], out=sums[1:])
        return sums

    def window_sum(self, sums: np.ndarray, start: np.ndarray) -> np.ndarray:
        return sums[self.tpos] - sums[start]

    def window_max(self, values: np.ndarray, start: np.ndarray, empty: float = 0.0) -> np.ndarray:
        """Maximum of values (one per frame row) over each target's window, ``empty`` where the window has no row.

        A sparse table over this grouping's order, with only as many levels as the longest window needs: each window
        is covered by two overlapping blocks of a power-of-two length, so the result is exact.
        """
        stop, lengths = self.tpos, self.tpos - start
        out = np.full(len(start), empty, dtype=np.float64)
        longest = int(lengths.max(initial=0))
        if not longest:
            return out
        levels = [values[self.order]]
        while 1 << len(levels) <= longest:
            half = 1 << (len(levels) - 1)
            levels.append(np.maximum(levels[-1][:-half], levels[-1][half:]))
        has = lengths > 0
        level = np.zeros(len(start), dtype=np.int64)
        level[has] = np.frexp(lengths[has].astype(np.float64))[1] - 1  # floor(log2(length)), exact
        for k in np.unique(level[has]):
            rows = np.flatnonzero(has & (level == k))
            out[rows] = np.maximum(levels[k][start[rows]], levels[k][stop[rows] - (1 << k)])
        return out

    def previous_ts(self) -> np.ndarray:
        """Time of the row just before each target in its group, or -1 when there is none."""
        prev = self.tpos - 1
        same = prev >= 0
        same[same] = (self.key[prev[same]] - self.ts[prev[same]]) == (self.key[self.tpos[same]] - self.t[same])
        return np.where(same, self.ts[np.maximum(prev, 0)], -1)

    def known_events(self, start: np.ndarray, is_event: np.ndarray, known_ts: np.ndarray) -> np.ndarray:
        """How many event rows (e.g. frauds) in each target's window were known (known_ts <= target ts)."""
        events, known = self._events_in_order(is_event, known_ts)
        if not len(events):
            return np.zeros(len(self.tpos), dtype=np.int64)
        # Each target's events lie between two searches; a compiled loop compares their known times with its time,
        # rather than numpy building arrays of every (target, event) pair.
        return known_counts(np.searchsorted(events, start), np.searchsorted(events, self.tpos), known, self.t)

    def matches(self, start: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """How many rows of each target's window have the target's code (one per frame row) of another column: what
        a grouping by both columns would count in the same window, without sorting the rows again."""
        return window_matches(codes[self.order], start, self.tpos)

    def _events_in_order(self, is_event: np.ndarray, known_ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the event rows in this grouping's order and their known times, found once per pair of
        arrays (a merchant's fraud counts read the same events over three windows). The arrays are kept with them,
        so their ids cannot be reused by others."""
        key = (id(is_event), id(known_ts))
        if key not in self._events:
            events = np.flatnonzero(is_event[self.order])
            self._events[key] = (is_event, known_ts, events, known_ts[self.order[events]])
        return self._events[key][2:]
