"""Row blocks scored on a small per-process thread pool.

Every row's score depends only on that row and the model, so a large batch can be cut into blocks and the blocks
scored side by side: numpy and torch release the GIL in their loops, and a block's temporaries stay in the cache.
The pool is made lazily once per process (and again after a fork, whose child inherits no threads).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

BLOCK_ROWS = 32_768
_POOL: dict[int, ThreadPoolExecutor] = {}


def workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _pool() -> ThreadPoolExecutor:
    pid = os.getpid()
    if pid not in _POOL:
        _POOL.clear()
        _POOL[pid] = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="engine-score")
    return _POOL[pid]


def map_blocks(function: Callable[[slice], object], n_rows: int, block: int | None = None) -> list:
    """function(rows) for consecutive row slices covering n_rows, in order; in parallel when there are several."""
    block = block or BLOCK_ROWS
    blocks = [slice(lo, min(lo + block, n_rows)) for lo in range(0, n_rows, block)] or [slice(0, 0)]
    if len(blocks) == 1 or workers() == 1:
        return [function(rows) for rows in blocks]
    return list(_pool().map(function, blocks))
