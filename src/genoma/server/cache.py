"""In-memory LRU cache of decrypted report objects, bounded by a byte budget.

A report fetch used to decrypt the report from the vault on every request (a few ms of
CPU and three helper threads per read, the largest cost of a fetch under load, see
``docs/bench/server.md``). The server keeps the plaintext of recently read reports in
its own memory instead, keyed by ``(object id, SHA-256 of the plaintext)`` as recorded
in the object's manifest: a report replaced in the vault has a new checksum, so a stale
entry is never served, and a miss goes through the vault's full verification.

Security note: the cached plaintext lives only in the server process's memory (never on
disk, never shared with the job processes) and only for reports a request was authorized
to read; authorization and the audit entry still happen on every request, before the
cache is consulted. ``report_cache_bytes = 0`` turns the cache off.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["PlaintextCache"]


class PlaintextCache:
    """A thread-safe LRU of ``(key) -> value`` with a total size budget in bytes.

    Parameters
    ----------
    max_bytes
        Budget for the sum of the entries' sizes; ``0`` disables the cache. An entry
        larger than a quarter of the budget is never kept (one big PDF must not evict
        every other report).

    Attributes
    ----------
    hits, misses
        Counters (for tests and the health of the cache).
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple[str, ...], tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def size(self) -> int:
        """Bytes held now."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, ...]) -> Any | None:
        """The cached value of ``key`` (marked most recently used), or ``None``."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: tuple[str, ...], value: Any, nbytes: int) -> None:
        """Keep ``value`` (of about ``nbytes`` bytes), evicting the least recently used."""
        if self.max_bytes == 0 or nbytes > self.max_bytes // 4:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._items[key] = (value, nbytes)
            self._size += nbytes
            while self._size > self.max_bytes and self._items:
                _, (_, n) = self._items.popitem(last=False)
                self._size -= n

    def get_or_load(self, key: tuple[str, ...], load: Callable[[], tuple[Any, int]]) -> Any:
        """The cached value of ``key``, or ``load()`` → ``(value, nbytes)``, cached.

        Two threads missing the same key at once both load it (no single flight: a
        report read is a few ms, and the loads give identical values).
        """
        value = self.get(key)
        if value is not None:
            return value
        value, nbytes = load()
        self.put(key, value, nbytes)
        return value

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()
            self._size = 0
