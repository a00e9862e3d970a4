"""A per-process copy of the recent transactions that batch scoring reads its history from.

Every scored transaction needs its account's and its merchant's last 30 days; read from PostgreSQL for each batch,
that history would be most of the batch's time. This cache keeps those rows in numpy arrays and asks PostgreSQL only
for what changed since its last look, and must return exactly the rows the SQL read would (a cache that drifts is
train/serve skew by another name): inserts and updates stamp `change_txid`, deletes leave tombstones
(transactions/migrations/0003), and a look fetches what the previous look's snapshot did not see (snapshots, not ids
or clocks, so a late commit is still seen). Rows of the caller's own open transaction are never cached; history
older than the cache's floor, or beyond HISTORY_CACHE_MAX_ROWS, falls back to SQL.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction

from detection.engine.frame import PLACE_TEXT

# Text columns kept as codes (each value coded once); the card-not-present codes too, mostly "" (none).
TEXT_COLUMNS = ("account_id", "merchant_id", "channel", "country", "merchant_category", *PLACE_TEXT)
# Rows of the cache older than the newest request's lookback by this much are dropped at the next compaction.
EVICT_SLACK_SECONDS = 7 * 86400
# Up to this many keys, a text column's categoricals carry all of them, in one dtype made again only when a key
# is added (so a batch does not renumber every cached code); past it, only the keys a batch uses.
ALL_KEYS_UP_TO = 1 << 16
# Up to this many rows, a text column is coded by looking each row's key up, cheaper for a batch than pandas'
# factorize and then a lookup of each distinct key; past it, as for a fill, factorize goes first.
LOOKUP_ROWS_UP_TO = 1 << 16
# A cache filled for a request reaches this much further back, so slightly older requests still hit it.
FILL_MARGIN_SECONDS = 86400


@dataclass
class _Snapshot:
    """What a look saw: every transaction id below `xmax` had finished, except those in `running`."""

    xmax: int
    running: set[int]
    own: int | None  # the caller's transaction id, when it has written anything

    @classmethod
    def parse(cls, text: str, own: int | None) -> "_Snapshot":
        _, xmax, running = text.split(":")  # pg_snapshot as text: "xmin:xmax:xip,xip,..."
        return cls(xmax=int(xmax), running={int(x) for x in running.split(",") if x}, own=own)

    def unseen_until(self, current: "_Snapshot", pending: set[int], adopted: set[int]) -> list:
        """The changed-rows and tombstone queries' parameters: the transaction ids this look did not see finish
        (from its xmax up to the current look's, its running ones, our pending ones) below the current look's xmax
        (later ones come next time), except those whose rows the cache adopted.

        Each id once: our own transaction's id is usually at or above the xmax of a look made in it (a snapshot's
        xmax follows the last *completed* transaction), so listing it too would read its rows twice.
        """
        listed = sorted(x for x in self.running | pending if x < self.xmax and x not in adopted)
        return [self.xmax, current.xmax, sorted(adopted), listed, current.xmax]


@dataclass
class _Columns:
    """Growable column arrays (capacity doubles), so an append copies only the new rows."""

    data: dict[str, np.ndarray] = field(default_factory=dict)
    size: int = 0

    def append(self, columns: dict[str, np.ndarray]) -> None:
        count = len(next(iter(columns.values()))) if columns else 0
        if not count:
            return
        needed = self.size + count
        if not self.data or needed > len(next(iter(self.data.values()))):
            capacity = max(needed, 2 * self.size, 1024)
            for name, values in columns.items():
                grown = np.empty(capacity, dtype=values.dtype)
                if name in self.data:
                    grown[: self.size] = self.data[name][: self.size]
                self.data[name] = grown
        for name, values in columns.items():
            self.data[name][self.size : needed] = values
        self.size = needed

    def view(self, name: str) -> np.ndarray:
        return self.data[name][: self.size]

    def keep(self, mask: np.ndarray) -> None:
        self.data = {name: self.view(name)[mask].copy() for name in self.data}
        self.size = int(mask.sum())


class HistoryCache:
    """Recent committed transactions of one database, with their label state, as the adapters' columns."""

    def __init__(self, *, database: str, columns: tuple[str, ...], fetch, max_rows: int):
        self.database, self.columns = database, columns
        self._fetch = fetch  # the adapters' reader: (conditions, params, copy=, table=) -> {column: array}
        self.max_rows = max_rows
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.rows = _Columns()
        # Every text column's values coded once, by first sight: selections look accounts and merchants up by code,
        # and a batch's frame gets its text as categoricals of these codes.
        self.codes: dict[str, dict[str, int]] = {name: {} for name in TEXT_COLUMNS}
        self.keys: dict[str, _Columns] = {name: _Columns() for name in TEXT_COLUMNS}  # code -> value
        self._dtypes: dict[str, pd.CategoricalDtype] = {}  # every key of a column, as categories
        self.floor: float | None = None  # epoch seconds; rows at or after it are all here
        self.snapshot: _Snapshot | None = None
        self.pending_own: set[int] = set()  # transaction ids of ours that may commit later
        self.adopted: set[int] = set()  # ids of ours whose rows were taken in at commit (`_adopt`)
        self.disabled_until = 0.0
        self.dead = 0
        self.max_id = -1

    # ------------------------------------------------------------------ reading

    def columns_for(
        self,
        *,
        source_ids: list[int],
        accounts: list[str],
        merchants: list[str],
        account_since: datetime,
        merchant_since: datetime,
        until: datetime,
        own: dict[str, np.ndarray] | None = None,
        adopt: bool = False,
    ) -> dict[str, np.ndarray | pd.Categorical] | None:
        """The rows an SQL history read would return, or None when the cache cannot answer: the cached committed
        rows of these sources (one organisation's), where ``own`` (the caller's open transaction's rows, never
        cached) replaces their committed versions.

        ``adopt``: ``own`` is every row the caller's transaction writes to the transactions table, as it will commit
        them (no other write before or after): the cache then takes them in at commit, under the transaction id this
        look saw, instead of reading them back at a later look.

        Text columns come as ``pandas.Categorical``, from the cache's codes: coded once when cached, not spelled out
        and hashed again for every batch.
        """
        since = min(account_since, merchant_since).timestamp()
        with self.lock:
            if time.monotonic() < self.disabled_until:
                return None
            if self.floor is None:
                if not self._fill(since - FILL_MARGIN_SECONDS):
                    return None
            else:
                self._refresh()  # which may give up (too many rows) and leave no floor
                if self.floor is not None and since < self.floor and not self._extend(since - FILL_MARGIN_SECONDS):
                    return None
            if self.floor is None or not self.rows.size:  # nothing committed in the window yet: SQL has it all
                return None
            self._evict(since)
            coded = self._coded(own) if own is not None and len(own["id"]) else None
            rows = self._select(
                source_ids,
                accounts,
                merchants,
                account_since.timestamp(),
                merchant_since.timestamp(),
                until.timestamp(),
                coded,
            )
            rows = {name: self._categorical(name, v) if name in self.codes else v for name, v in rows.items()}
            txid = self.snapshot.own  # the look just made (a fill or a refresh) saw the caller's transaction id
        if coded is not None and adopt and txid is not None:  # outside the lock: outside a transaction it runs at once
            transaction.on_commit(partial(self._adopt, txid, coded), robust=True)  # the commit stands regardless
        return rows

    def _categorical(self, name: str, codes: np.ndarray) -> pd.Categorical:
        """The values of the cache's codes: with every key as a category (one dtype, kept until a key is added) for
        a column of up to ALL_KEYS_UP_TO keys, else with only the categories they use (numbered in code order)."""
        keys = self.keys[name]
        if keys.size <= ALL_KEYS_UP_TO:
            dtype = self._dtypes.get(name)
            if dtype is None or len(dtype.categories) != keys.size:
                dtype = self._dtypes[name] = pd.CategoricalDtype(pd.Index(keys.view("key").copy(), dtype=object))
            return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
        used = np.zeros(len(self.codes[name]), dtype=bool)
        used[codes] = True
        renumbered = np.cumsum(used) - 1
        categories = pd.Index(self.keys[name].view("key")[used], dtype=object)
        return pd.Categorical.from_codes(renumbered[codes], categories=categories, validate=False)

    def _select(
        self, source_ids, accounts, merchants, account_since, merchant_since, until, own
    ) -> dict[str, np.ndarray]:
        """The rows' columns, each text column as its codes (``self.keys`` holds the values): ``own`` (coded) first,
        then the cached rows of these sources, but those it holds another version of."""
        ts, alive = self.rows.view("timestamp"), self.rows.view("alive")
        mask = self._keys_in("account_id", accounts) & (ts >= account_since)
        mask |= self._keys_in("merchant_id", merchants) & (ts >= merchant_since)
        mask &= alive & (ts <= until)
        positions = np.flatnonzero(mask)
        # Another organisation's rows under the same account or merchant ids are never its history.
        positions = positions[np.isin(self.rows.view("source_id")[positions], source_ids)]
        head = 0 if own is None else len(own["id"])
        if head and int(own["id"].min()) <= self.max_id:  # it changed rows that may be cached: its versions are kept
            positions = positions[~_isin_ids(self.rows.view("id")[positions], own["id"])]
        out = {}
        for name in self.columns:
            cached = self.rows.view(f"_{name}" if name in self.codes else name)
            column = out[name] = np.empty(head + len(positions), dtype=cached.dtype)
            if head:
                column[:head] = own[name]
            np.take(cached, positions, out=column[head:], mode="clip")  # into place: no concatenation after
        return out

    def _keys_in(self, column: str, keys: list[str]) -> np.ndarray:
        """Which cached rows have one of these keys: a lookup table over the column's codes (np.isin builds its own
        table with range checks and shifted copies, far slower)."""
        known = self.codes[column]
        wanted = np.fromiter((known[k] for k in keys if k in known), dtype=np.int64)
        present = np.zeros(len(known), dtype=bool)
        present[wanted] = True
        return present[self.rows.view(f"_{column}")]

    def _adopt(self, txid: int, coded: dict[str, np.ndarray]) -> None:
        """Take in the rows of our transaction `txid`, just committed (coded as `_coded` gives them)."""
        with self.lock:
            # Only rows of a transaction a look was made in (so its id is pending) and none has seen finish: a later
            # look, or a refill, has read them already.
            if txid not in self.pending_own or txid in self.adopted or self.floor is None:
                return
            # Rows from a second before the floor on (which a float compare against it cannot miss): more than a look
            # would read, and harmless (no request reads below the floor without a refill).
            keep = coded["timestamp"] >= self.floor - 1
            adopted = {name: values[keep] for name, values in coded.items()}
            self.adopted.add(txid)  # the next looks leave its rows out, until one sees it finish
            try:
                self._kill(np.asarray(adopted["id"], dtype=np.int64))
                self._append(adopted)
            except Exception:
                self._reset()
                raise
            if self.rows.size > self.max_rows:
                self._reset()
                self.disabled_until = time.monotonic() + 600

    # ------------------------------------------------------------------ keeping up

    def _fill(self, floor: float) -> bool:
        """Load every committed row from `floor` on; False (and SQL for a while) when there are too many."""
        self._reset()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM transactions_transaction WHERE timestamp >= to_timestamp(%s)", [floor])
            if cursor.fetchone()[0] > self.max_rows:
                self.disabled_until = time.monotonic() + 600
                return False
            snapshot = self._snapshot(cursor)
        rows = self._fetch(_FILL_SQL, [floor], copy=True)
        self._own_transaction(snapshot)
        self.snapshot, self.floor = snapshot, floor
        self._add(rows)
        return True

    def _extend(self, floor: float) -> bool:
        """Load the committed rows from `floor` up to the cache's floor, keeping the others: a request older than
        the cache (a backfill's, say) reads only its own window instead of refilling the cache with every row since.

        Right after a look (`_refresh`), as `_fill` reads right after its snapshot: a row this read sees that the
        look did not is fetched again by the next look, which replaces it, and one it misses is the next look's.
        """
        with connection.cursor() as cursor:
            cursor.execute(_SLICE_COUNT_SQL, [floor, self.floor])
            if cursor.fetchone()[0] + self.rows.size > self.max_rows:
                self._reset()
                self.disabled_until = time.monotonic() + 600
                return False
        rows = self._fetch(_SLICE_SQL, [floor, self.floor], copy=True)
        # Rows adopted at a commit may lie a second below the floor (`_adopt`): the versions read now replace them.
        self._kill(np.asarray(rows["id"], dtype=np.int64))
        self._add(rows)
        self.floor = floor
        return True

    def _refresh(self) -> None:
        """Fetch what other transactions committed since the last look, and the tombstones of deleted rows."""
        previous = self.snapshot
        with connection.cursor() as cursor:
            current = self._snapshot(cursor)
            unseen = previous.unseen_until(current, self.pending_own, self.adopted)
            cursor.execute(_TOMBSTONES_SQL, unseen)
            tombstones = [pk for (pk,) in cursor.fetchall()]
        if None in tombstones:  # the table was truncated
            self._fill(self.floor)
            return
        changed = self._fetch(_CHANGES_WHERE, [*unseen, self.floor], copy=False, table=_CHANGED_ROWS)
        self._own_transaction(current)
        self.snapshot = current
        if tombstones:
            self._kill(np.asarray(tombstones, dtype=np.int64))
        if len(changed["id"]):
            self._kill(np.asarray(changed["id"], dtype=np.int64))
            self._add(changed)
        if self.rows.size > self.max_rows:
            self._reset()
            self.disabled_until = time.monotonic() + 600

    def _snapshot(self, cursor) -> _Snapshot:
        cursor.execute("SELECT pg_current_snapshot()::text, txid_current_if_assigned()")
        return _Snapshot.parse(*cursor.fetchone())

    def _own_transaction(self, snapshot: _Snapshot) -> None:
        """Forget our transaction ids the snapshot saw finish; remember the open one, whose rows were not read."""
        self.pending_own = {x for x in self.pending_own if x >= snapshot.xmax or x in snapshot.running}
        self.adopted = {x for x in self.adopted if x >= snapshot.xmax or x in snapshot.running}
        if snapshot.own is not None:
            self.pending_own.add(snapshot.own)

    def _add(self, rows: dict[str, np.ndarray]) -> None:
        self._append(self._coded(rows))

    def _coded(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The rows with each text column as its codes (under the same names)."""
        columns = {name: np.asarray(values) for name, values in rows.items()}
        columns["timestamp"] = columns["timestamp"].astype(np.float64)
        for name in self.codes:
            columns[name] = self._encode(name, columns[name])
        return columns

    def _append(self, coded: dict[str, np.ndarray]) -> None:
        count = len(coded["id"])
        if not count:
            return
        columns = {f"_{name}" if name in self.codes else name: values for name, values in coded.items()}
        columns["alive"] = np.ones(count, dtype=bool)
        self.rows.append(columns)
        self.max_id = max(self.max_id, int(columns["id"].max()))

    def _encode(self, name: str, values: np.ndarray) -> np.ndarray:
        """The values' codes (text, never null: the columns are NOT NULL), coding keys not seen before."""
        known, size = self.codes[name], len(self.codes[name])
        if len(values) <= LOOKUP_ROWS_UP_TO:  # a batch's rows, a refresh: each row's key looked up once
            keys = np.asarray(values, dtype=object).tolist()
            codes = list(map(known.get, keys))
            if None in codes:
                pairs = zip(keys, codes, strict=True)
                codes = [known.setdefault(key, len(known)) if code is None else code for key, code in pairs]
            shared = np.array(codes, dtype=np.int64)
        else:  # a fill: each distinct key looked up once
            coded, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
            shared = np.fromiter((known.setdefault(key, len(known)) for key in uniques.tolist()), dtype=np.int64)
            shared = shared[coded]
        if len(known) > size:
            self.keys[name].append({"key": np.asarray(list(known)[size:], dtype=object)})
        return shared

    def _kill(self, ids: np.ndarray) -> None:
        """Mark the cached versions of these rows dead (deleted, or about to be replaced by a newer version)."""
        ids = ids[ids <= self.max_id]  # a new row's id is usually above every cached one: nothing to look up
        if not self.rows.size or not len(ids):  # an empty cache has no columns yet
            return
        stored = self.rows.view("id")
        hit = _isin_ids(stored, ids)
        alive = self.rows.view("alive")
        self.dead += int((hit & alive).sum())
        alive[hit] = False

    def _evict(self, since: float) -> None:
        """Drop rows no request will read again (their time is behind the lookback) and dead rows, now and then."""
        cutoff = since - FILL_MARGIN_SECONDS
        if cutoff - self.floor < EVICT_SLACK_SECONDS and self.dead < max(self.rows.size // 4, 10_000):
            return
        keep = self.rows.view("alive") & (self.rows.view("timestamp") >= cutoff)
        self.rows.keep(keep)
        self.floor, self.dead = max(self.floor, cutoff), 0


def _isin_ids(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``np.isin(values, ids)`` for ids of recent rows, above most cached ones: only the values from the smallest id
    up are looked up, far fewer than np.isin over the whole cache would search."""
    hit = values >= ids.min()
    candidates = np.flatnonzero(hit)
    hit[candidates] = np.isin(values[candidates], ids)
    return hit


# Conditions for the adapters' reader (`_fetch_columns`), which supplies the select list over alias t.
_FILL_SQL = "WHERE t.timestamp >= to_timestamp(%s) AND t.change_txid IS DISTINCT FROM txid_current_if_assigned()"
_SLICE_SQL = (
    "WHERE t.timestamp >= to_timestamp(%s) AND t.timestamp < to_timestamp(%s) "
    "AND t.change_txid IS DISTINCT FROM txid_current_if_assigned()"
)
_SLICE_COUNT_SQL = (
    "SELECT count(*) FROM transactions_transaction WHERE timestamp >= to_timestamp(%s) AND timestamp < to_timestamp(%s)"
)
# Rows written by transactions the previous look did not see and the current one does (`_Snapshot.unseen_until`):
# two simple index conditions on change_txid, so the planner takes the index for each however long some other
# transaction of the cluster stays open.
_CHANGED_ROWS = (
    "(SELECT * FROM transactions_transaction WHERE change_txid >= %s AND change_txid < %s "
    "AND change_txid <> ALL(%s::bigint[]) UNION ALL "
    "SELECT * FROM transactions_transaction WHERE change_txid = ANY(%s::bigint[]) AND change_txid < %s)"
)
_CHANGES_WHERE = "WHERE t.timestamp >= to_timestamp(%s) AND t.change_txid IS DISTINCT FROM txid_current_if_assigned()"
_TOMBSTONES_SQL = (
    "SELECT transaction_pk FROM transactions_deletedtransaction d "
    "WHERE d.change_txid IS DISTINCT FROM txid_current_if_assigned() AND ("
    "(d.change_txid >= %s AND d.change_txid < %s AND d.change_txid <> ALL(%s::bigint[])) OR "
    "(d.change_txid = ANY(%s::bigint[]) AND d.change_txid < %s))"
)

_CACHES: dict[str, HistoryCache] = {}
_CACHES_LOCK = threading.Lock()


def history_cache(columns: tuple[str, ...], fetch) -> HistoryCache | None:
    """This process's cache for the default database, or None when HISTORY_CACHE is off."""
    if not settings.HISTORY_CACHE:
        return None
    database = str(connection.settings_dict["NAME"])
    with _CACHES_LOCK:
        cache = _CACHES.get(database)
        if cache is None:
            cache = _CACHES[database] = HistoryCache(
                database=database, columns=columns, fetch=fetch, max_rows=settings.HISTORY_CACHE_MAX_ROWS
            )
        return cache
