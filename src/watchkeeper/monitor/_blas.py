"""Keep BLAS single-threaded while comparisons run, safely across overlapping calls.

A comparison sorts and merges columns in its own threads; OpenBLAS's idle worker threads spin
and take the cores those threads need (at a million rows this alone cost 0.6 s of 2.5 s). The
limit is process-wide, so overlapping comparisons share one: the first to enter sets it, the
last to leave restores what was there before.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["single_threaded_blas"]

_lock = threading.Lock()
_users = 0
_limiter: Any = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within this context BLAS uses one thread; nested and concurrent uses are counted."""
    global _users, _limiter
    with _lock:
        if _users == 0:
            from threadpoolctl import threadpool_limits

            _limiter = threadpool_limits(limits=1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
