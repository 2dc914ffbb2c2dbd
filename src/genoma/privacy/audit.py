"""Append-only, hash-chained, HMAC-keyed audit log (JSON lines).

Every entry records who did what to which resource, when (UTC), why (declared purpose),
with what outcome, and under which request id (the fields the GA4GH security framework
asks an audit trail to carry). Entries are chained: each carries ``seq`` (1, 2, 3, ...),
``prev`` (the hash of the previous entry; the first entry commits to the log id) and
``hash`` = SHA-256 of its own canonical JSON without ``hash``/``mac``; ``mac`` is
HMAC-SHA256 of ``hash`` under a secret audit key. Without the key an attacker cannot
recompute the chain after changing it.

What :func:`verify_log` detects: any edit of an entry, deletion, insertion, reordering,
replay (a copied entry), splicing entries of another log, and — given an exported
:class:`Anchor` — truncation of the tail up to that anchor. What it cannot detect: the
loss of entries written after the newest anchor you hold, and anything done by someone
who holds the audit key (keep it outside the machine that stores the log).

References
----------
.. [1] GA4GH Data Security Infrastructure Policy / AAI: audit records of access,
   https://www.ga4gh.org/product/ga4gh-security-infrastructure/
.. [2] RFC 2104 HMAC; Crosby & Wallach, "Efficient data structures for tamper-evident
   logging", USENIX Security 2009.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genoma.errors import InputMissingError, MalformedInputError, UsageError

__all__ = [
    "OUTCOMES",
    "Anchor",
    "AuditLog",
    "AuditProblem",
    "AuditReport",
    "load_audit_key",
    "new_audit_key",
    "verify_log",
]

OUTCOMES = ("success", "denied", "failure")
_GENESIS = "genesis"
_FIELDS = (
    "seq",
    "log_id",
    "time",
    "request_id",
    "actor",
    "action",
    "resource",
    "purpose",
    "outcome",
    "detail",
    "prev",
)


def _canonical(d: dict[str, Any]) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "mac")}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def new_audit_key() -> bytes:
    """A fresh 32-byte random audit key."""
    return os.urandom(32)


def load_audit_key(path: Path | None = None, *, env: str = "GENOMA_AUDIT_KEY") -> bytes:
    """The audit HMAC key: hex in ``$GENOMA_AUDIT_KEY`` or in the file ``path``.

    Raises
    ------
    InputMissingError
        If neither is available.
    MalformedInputError
        If the key is not at least 32 bytes of hex.
    """
    from genoma.privacy.keys import load_hex_secret

    return load_hex_secret(path, env, "audit key")


@dataclass(frozen=True)
class Anchor:
    """An exported head of the chain: keep it elsewhere to detect later tail truncation."""

    log_id: str
    seq: int
    hash: str
    time: str
    mac: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "seq": self.seq,
            "hash": self.hash,
            "time": self.time,
            "mac": self.mac,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Anchor:
        return cls(d["log_id"], int(d["seq"]), d["hash"], d["time"], d["mac"])


@dataclass
class AuditProblem:
    """One verification failure, at a 1-based line of the log."""

    line: int
    problem: str


@dataclass
class AuditReport:
    """Result of :func:`verify_log`."""

    path: str
    ok: bool
    entries: int
    log_id: str | None
    head: str | None
    problems: list[AuditProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "entries": self.entries,
            "log_id": self.log_id,
            "head": self.head,
            "problems": [{"line": p.line, "problem": p.problem} for p in self.problems],
        }


class AuditLog:
    """Writer of one audit log file.

    Parameters
    ----------
    path
        The JSON-lines log (created with a fresh ``log_id`` on first write).
    key
        The HMAC key (see :func:`load_audit_key`).

    Notes
    -----
    Appends take an exclusive ``flock``, re-read the tail to chain on the last entry,
    write one line with ``O_APPEND`` and ``fsync``. Several processes may append.
    """

    def __init__(self, path: Path, key: bytes) -> None:
        if len(key) < 32:
            raise UsageError("audit key must be at least 32 bytes")
        self.path = Path(path)
        self.key = key
        # group commit: writers chain and write one at a time (``_write_lock`` in this
        # process, ``flock`` across processes), then wait for an fsync that started after
        # their write; one waiting writer runs it for all (see ``_sync_after``)
        self._write_lock = threading.Lock()
        self._sync = threading.Condition()
        self._written = 0  # writes done by this object
        self._synced = 0  # writes known to be on disk
        self._syncing = False

    def _last(self) -> dict[str, Any] | None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        with open(self.path, "rb") as f:
            f.seek(0, os.SEEK_END)
            end = f.tell()
            block = 4096
            data = b""
            while end > 0:
                start = max(0, end - block)
                f.seek(start)
                data = f.read(end - start) + data
                end = start
                lines = data.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or start == 0:
                    break
            last = data.rstrip(b"\n").split(b"\n")[-1]
        try:
            return json.loads(last)
        except ValueError as exc:
            raise MalformedInputError(
                "last audit entry is not JSON: refusing to append", path=self.path
            ) from exc

    def append(
        self,
        *,
        actor: str,
        action: str,
        resource: str,
        purpose: str | None,
        outcome: str,
        request_id: str | None = None,
        detail: str | None = None,
    ) -> dict[str, Any]:
        """Append one entry and return it.

        Parameters
        ----------
        actor
            Who (user name, or ``service``).
        action
            What (e.g. ``vault.get``, ``vault.put``, ``export.cohort``).
        resource
            Which data (e.g. ``vault:<object id>``, ``dataset:<name>``).
        purpose
            Why: the declared purpose of the request (e.g. ``research:HMB``).
        outcome
            ``success``, ``denied`` or ``failure``.
        request_id
            Correlation id (a new UUID if not given).
        detail
            Short free text (the reason of a denial); never put genomic data here.
        """
        if outcome not in OUTCOMES:
            raise UsageError(f"audit outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            with self._write_lock:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    last = self._last()
                    if last is None:
                        log_id, seq, prev = uuid.uuid4().hex, 1, None
                    else:
                        log_id, seq, prev = last["log_id"], int(last["seq"]) + 1, last["hash"]
                    entry: dict[str, Any] = {
                        "seq": seq,
                        "log_id": log_id,
                        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "request_id": request_id or uuid.uuid4().hex,
                        "actor": actor,
                        "action": action,
                        "resource": resource,
                        "purpose": purpose,
                        "outcome": outcome,
                        "detail": detail,
                        "prev": prev if prev is not None else _genesis(log_id),
                    }
                    entry["hash"] = _entry_hash(entry)
                    entry["mac"] = _mac(self.key, entry["hash"])
                    os.write(fd, _canonical(entry) + b"\n")
                    with self._sync:
                        self._written += 1
                        ticket = self._written
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            self._sync_after(fd, ticket)
        finally:
            os.close(fd)
        return entry

    def _sync_after(self, fd: int, ticket: int) -> None:
        """Return once an ``fsync`` that began after write number ``ticket`` has finished.

        The first waiting writer syncs the file for every write done so far; the others
        wait for it (one fsync per group instead of one per entry, while each ``append``
        still returns only when its entry is on disk).
        """
        with self._sync:
            while self._synced < ticket:
                if self._syncing:
                    self._sync.wait()
                    continue
                self._syncing = True
                target = self._written
                self._sync.release()
                try:
                    os.fsync(fd)
                finally:
                    self._sync.acquire()
                    self._syncing = False
                    self._synced = max(self._synced, target)
                    self._sync.notify_all()

    def anchor(self) -> Anchor:
        """The current head of the chain, MAC'd, to export and keep elsewhere.

        Raises
        ------
        InputMissingError
            If the log is empty.
        """
        last = self._last()
        if last is None:
            raise InputMissingError("empty audit log: nothing to anchor", path=self.path)
        t = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = f"{last['log_id']}|{last['seq']}|{last['hash']}|{t}"
        return Anchor(last["log_id"], int(last["seq"]), last["hash"], t, _mac(self.key, body))


def _genesis(log_id: str) -> str:
    return hashlib.sha256(f"{_GENESIS}:{log_id}".encode()).hexdigest()


def verify_log(path: Path, key: bytes, *, anchor: Anchor | None = None) -> AuditReport:
    """Verify an audit log: every MAC, hash, link, sequence number and log id.

    Parameters
    ----------
    path
        The JSON-lines log.
    key
        The audit HMAC key.
    anchor
        An exported head (:meth:`AuditLog.anchor`); when given, the log must still
        contain that entry unchanged (detects truncation up to the anchor).

    Returns
    -------
    AuditReport
        ``ok`` is false and ``problems`` name the 1-based lines on any failure.

    Raises
    ------
    InputMissingError
        If the log cannot be read.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputMissingError(f"cannot read audit log: {exc.strerror}", path=path) from exc
    problems: list[AuditProblem] = []
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        problems.append(AuditProblem(len(lines), "last line is incomplete (no newline)"))
    log_id: str | None = None
    prev_hash: str | None = None
    head: str | None = None
    seen: set[str] = set()
    by_seq: dict[int, str] = {}
    n = 0
    for i, line in enumerate(lines, start=1):
        try:
            e = json.loads(line)
            missing = [k for k in (*_FIELDS, "hash", "mac") if k not in e]
            if missing:
                raise ValueError(f"missing fields {missing}")
        except ValueError as exc:
            problems.append(AuditProblem(i, f"not a valid entry: {exc}"))
            prev_hash = None
            continue
        n += 1
        if log_id is None:
            log_id = e["log_id"]
        if e["log_id"] != log_id:
            problems.append(AuditProblem(i, "entry belongs to another log (spliced)"))
        h = _entry_hash(e)
        if h != e["hash"]:
            problems.append(AuditProblem(i, "entry content edited (hash mismatch)"))
        if not hmac.compare_digest(_mac(key, e["hash"]), str(e["mac"])):
            problems.append(AuditProblem(i, "bad MAC (forged or recomputed entry, or wrong key)"))
        if e["hash"] in seen:
            problems.append(AuditProblem(i, "replayed entry (seen before)"))
        seen.add(e["hash"])
        if e["seq"] != n:
            problems.append(
                AuditProblem(
                    i,
                    f"sequence number {e['seq']}, expected {n} (deleted, inserted or reordered entries)",
                )
            )
        expected_prev = _genesis(log_id) if n == 1 else prev_hash
        if expected_prev is not None and e["prev"] != expected_prev:
            problems.append(AuditProblem(i, "chain broken: prev does not match the previous entry"))
        if e["outcome"] not in OUTCOMES:
            problems.append(AuditProblem(i, f"unknown outcome {e['outcome']!r}"))
        prev_hash = e["hash"]
        head = e["hash"]
        by_seq.setdefault(int(e["seq"]), e["hash"])
    if anchor is not None:
        body = f"{anchor.log_id}|{anchor.seq}|{anchor.hash}|{anchor.time}"
        if not hmac.compare_digest(_mac(key, body), anchor.mac):
            problems.append(AuditProblem(0, "anchor MAC invalid (forged anchor or wrong key)"))
        elif log_id is not None and anchor.log_id != log_id:
            problems.append(AuditProblem(0, "anchor is for another log"))
        elif by_seq.get(anchor.seq) != anchor.hash:
            problems.append(
                AuditProblem(
                    n,
                    f"anchored entry {anchor.seq} missing or changed (log truncated or rewritten after the anchor)",
                )
            )
    return AuditReport(str(path), not problems, n, log_id, head, problems)
