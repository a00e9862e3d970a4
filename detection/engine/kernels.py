"""Compiled loops (numba): the trees' descents (isolation forest and supervised model), the window counts of
``windows.Grouping.known_events`` and ``matches``, and the searches behind the reasons' rarities
(``profile.FeatureProfile.rare_entries``).

Each row walks its trees level by level with the trees side by side: their next nodes do not depend on each other,
so the processor overlaps their reads, where numpy's passes over (rows x trees) arrays, or one tree after another,
wait on each read. A row's result depends only on the row and the model (never its batch or a thread), and the
supervised leaf values are added in scikit-learn's order, so they equal ``predict_proba`` bit for bit. Compiled on
first use, from numba's cache beside this file when writable; serving processes warm them up first (``warm_up``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def forest_path_lengths(X, feature, threshold, value, depth, inner):  # pragma: no cover - compiled
    """Each row's summed path length over the forest's complete trees (``forest.CompiledForest``'s layout: inner
    node h of tree t at t * inner + h, children of h at 2h + 1 and 2h + 2, leaf l of tree t at t * 2**depth + l)."""
    n, trees = X.shape[0], len(value) >> depth
    out = np.empty(n)
    node = np.empty(trees, dtype=np.int64)
    for i in range(n):
        row = X[i]
        for t in range(trees):
            node[t] = 0
        for _ in range(depth):
            for t in range(trees):
                k = t * inner + node[t]
                node[t] = 2 * node[t] + 1 + (row[feature[k]] > threshold[k])
        total = 0.0
        for t in range(trees):
            total += value[(t << depth) + node[t] - inner]
        out[i] = total
    return out


@njit(cache=True, nogil=True)
def boosting_raw(X, roots, feature, threshold, missing_left, children, value, depth, baseline):  # pragma: no cover
    """Each row's raw prediction: the baseline plus each tree's leaf value, in tree order
    (``boosting.CompiledBoosting``'s layout: children[2 * node] left, children[2 * node + 1] right, a leaf its own
    child; a missing value goes where the node's ``missing_left`` says)."""
    n, trees = X.shape[0], len(roots)
    out = np.empty(n)
    node = np.empty(trees, dtype=np.int64)
    active = np.empty(trees, dtype=np.int64)  # the trees whose leaf this row has not reached yet
    for i in range(n):
        row = X[i]
        for t in range(trees):
            node[t] = roots[t]
            active[t] = t
        remaining = trees
        for _ in range(depth):
            kept = 0
            for a in range(remaining):
                t = active[a]
                k = node[t]
                if children[2 * k] == k:  # a leaf
                    continue
                x = np.float64(row[feature[k]])
                right = (not missing_left[k]) if np.isnan(x) else x > threshold[k]
                node[t] = children[2 * k + right]
                active[kept] = t
                kept += 1
            remaining = kept
            if not remaining:
                break
        total = baseline
        for t in range(trees):
            total += value[node[t]]
        out[i] = total
    return out


@njit(cache=True, nogil=True)
def known_counts(first, stop, known, t):  # pragma: no cover - compiled
    """For each target i, how many of ``known[first[i]:stop[i]]`` (the times its window's events became known) are
    at most ``t[i]`` (the target's time)."""
    out = np.zeros(len(first), dtype=np.int64)
    for i in range(len(first)):
        count = 0
        for k in range(first[i], stop[i]):
            count += known[k] <= t[i]
        out[i] = count
    return out


@njit(cache=True, nogil=True)
def window_matches(codes, start, stop):  # pragma: no cover - compiled
    """For each target i, how many of ``codes[start[i]:stop[i]]`` equal ``codes[stop[i]]``: in a grouping's order
    (``stop`` the targets' positions, ``start`` their windows'), the rows of its window that share its value of
    another column (the same merchant, the same hour of day)."""
    out = np.zeros(len(start), dtype=np.int64)
    for i in range(len(start)):
        own = codes[stop[i]]
        count = 0
        for k in range(start[i], stop[i]):
            count += codes[k] == own
        out[i] = count
    return out


@njit(cache=True, nogil=True, inline="always")
def _before(a, b):  # pragma: no cover - compiled
    """numpy's sort order of floats, which puts NaN last."""
    return a < b or (b != b and a == a)


@njit(cache=True, nogil=True)
def reference_positions(reference, columns, values):  # pragma: no cover - compiled
    """For each entry, ``np.searchsorted(reference[column], value)`` with side left and with side right: one binary
    search per entry in its column's sorted reference row, whatever the columns (numpy needs a call per column)."""
    n = reference.shape[1]
    left = np.empty(len(values), dtype=np.int64)
    right = np.empty(len(values), dtype=np.int64)
    for e in range(len(values)):
        ref, value = reference[columns[e]], values[e]
        lo, hi = 0, n
        while lo < hi:  # first position whose value is not before this one
            mid = (lo + hi) >> 1
            if _before(ref[mid], value):
                lo = mid + 1
            else:
                hi = mid
        left[e] = lo
        hi = n
        while lo < hi:  # first position whose value comes after this one
            mid = (lo + hi) >> 1
            if _before(value, ref[mid]):
                hi = mid
            else:
                lo = mid + 1
        right[e] = lo
    return left, right


def warm_up() -> None:
    """Compile (or load from numba's cache) every loop here for the types the engine passes, on one-element inputs."""
    forest_path_lengths(np.zeros((1, 1), np.float32), np.zeros(1, np.int32), np.zeros(1, np.float32), np.zeros(2), 1, 1)
    boosting_raw(
        np.zeros((1, 1)),
        np.zeros(1, np.intp),
        np.zeros(1, np.intp),
        np.full(1, np.inf),
        np.ones(1, np.bool_),
        np.zeros(2, np.intp),
        np.zeros(1),
        0,
        0.0,
    )
    known_counts(np.zeros(1, np.int64), np.ones(1, np.int64), np.zeros(1), np.zeros(1, np.int64))
    reference_positions(np.zeros((1, 2)), np.zeros(1, np.int64), np.zeros(1))
    window_matches(np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))
