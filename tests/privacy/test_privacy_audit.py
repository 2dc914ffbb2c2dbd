"""The hash-chained audit log and each attack on it."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from genoma.errors import UsageError
from genoma.privacy.audit import AuditLog, _entry_hash, new_audit_key, verify_log

KEY = bytes(range(32))


def _log(path: Path, n: int = 5, key: bytes = KEY) -> AuditLog:
    log = AuditLog(path, key)
    for i in range(n):
        log.append(
            actor=f"user{i % 2}",
            action="vault.get",
            resource=f"vault:obj{i}",
            purpose="research:health",
            outcome="success" if i % 3 else "denied",
            request_id=f"req-{i}",
        )
    return log


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _problems(path: Path, **kw) -> list[str]:
    r = verify_log(path, KEY, **kw)
    return [p.problem for p in r.problems]


def test_clean_log_verifies_with_ga4gh_fields(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    r = verify_log(p, KEY)
    assert r.ok and r.entries == 5 and r.head
    e = json.loads(_lines(p)[0])
    for field in (
        "actor",
        "action",
        "resource",
        "time",
        "purpose",
        "outcome",
        "request_id",
        "prev",
        "hash",
        "mac",
    ):
        assert field in e
    assert e["time"].endswith("Z")


def test_bad_outcome_rejected(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        AuditLog(tmp_path / "a", KEY).append(
            actor="a", action="b", resource="c", purpose=None, outcome="maybe"
        )


def test_edit_detected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    lines = _lines(p)
    lines[2] = (
        lines[2]
        .replace(b'"outcome":"success"', b'"outcome":"denied"')
        .replace(b'"actor":"user0"', b'"actor":"alice"')
    )
    p.write_bytes(b"".join(lines))
    probs = verify_log(p, KEY).problems
    assert probs and probs[0].line == 3 and "edited" in probs[0].problem


def test_edit_with_recomputed_hash_detected_by_mac(tmp_path: Path) -> None:
    """An attacker without the key recomputes the whole chain: the MACs give it away."""
    p = tmp_path / "audit.jsonl"
    _log(p)
    entries = [json.loads(x) for x in _lines(p)]
    entries[1]["actor"] = "nobody"
    prev = entries[0]["hash"]
    for e in entries[1:]:
        e["prev"] = prev
        e["hash"] = _entry_hash(e)
        e["mac"] = hashlib.sha256(e["hash"].encode()).hexdigest()  # best guess without key
        prev = e["hash"]
    p.write_text("".join(json.dumps(e) + "\n" for e in entries))
    probs = verify_log(p, KEY).problems
    assert any(pr.line == 2 and "MAC" in pr.problem for pr in probs)


def test_deletion_detected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    lines = _lines(p)
    del lines[2]
    p.write_bytes(b"".join(lines))
    probs = verify_log(p, KEY).problems
    assert probs and probs[0].line == 3 and "sequence" in probs[0].problem


def test_insertion_detected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    lines = _lines(p)
    forged = json.loads(lines[1])
    forged["request_id"] = "forged"
    forged["hash"] = _entry_hash(forged)
    lines.insert(2, (json.dumps(forged) + "\n").encode())
    p.write_bytes(b"".join(lines))
    assert not verify_log(p, KEY).ok
    assert any(pr.line == 3 for pr in verify_log(p, KEY).problems)


def test_reordering_detected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    lines = _lines(p)
    lines[1], lines[3] = lines[3], lines[1]
    p.write_bytes(b"".join(lines))
    lines_bad = {pr.line for pr in verify_log(p, KEY).problems}
    assert 2 in lines_bad


def test_replay_detected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    lines = _lines(p)
    p.write_bytes(b"".join([*lines, lines[1]]))  # an old entry appended again
    probs = _problems(p)
    assert any("replayed" in x for x in probs)


def test_splice_from_another_log_detected(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _log(a)
    _log(b, n=6)
    la, lb = _lines(a), _lines(b)
    p = tmp_path / "mix.jsonl"
    p.write_bytes(b"".join([*la, lb[5]]))  # entry 6 of another log, same key
    assert any("another log" in x for x in _problems(p))


def test_wrong_key_fails(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    assert not verify_log(p, new_audit_key()).ok


def test_truncation_needs_an_anchor(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    log = _log(p)
    anchor = log.anchor()
    _log(p, n=0)
    lines = _lines(p)
    p.write_bytes(b"".join(lines[:-2]))  # tail truncated cleanly
    # Limitation (documented): a clean tail cut is invisible without an anchor ...
    assert verify_log(p, KEY).ok
    # ... and detected with one.
    r = verify_log(p, KEY, anchor=anchor)
    assert not r.ok and "truncated" in r.problems[0].problem


def test_forged_anchor_rejected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    log = _log(p)
    a = log.anchor()
    from dataclasses import replace

    r = verify_log(p, KEY, anchor=replace(a, seq=2))
    assert not r.ok and "anchor MAC" in r.problems[0].problem


def test_partial_last_line_detected(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"
    _log(p)
    p.write_bytes(p.read_bytes()[:-30])
    assert not verify_log(p, KEY).ok


def test_concurrent_appends_keep_the_chain(tmp_path: Path) -> None:
    p = tmp_path / "audit.jsonl"

    def worker(i: int) -> None:
        log = AuditLog(p, KEY)  # separate writer objects, as separate processes would be
        for j in range(15):
            log.append(actor=f"t{i}", action="x", resource=f"r{j}", purpose=None, outcome="success")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = verify_log(p, KEY)
    assert r.ok and r.entries == 60


def test_group_commit_syncs_every_entry_before_append_returns(tmp_path: Path, monkeypatch) -> None:
    """One shared writer (the server's): appends from many threads share fsyncs, and each
    append returns only after an fsync that began once its entry was written."""
    import os
    import time

    import genoma.privacy.audit as audit_mod

    p = tmp_path / "audit.jsonl"
    synced_lines = [0]
    calls = [0]
    guard = threading.Lock()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        lines_at_start = p.read_bytes().count(b"\n")
        time.sleep(0.02)  # a slow disk: writers pile up behind one sync
        real_fsync(fd)
        with guard:
            calls[0] += 1
            synced_lines[0] = max(synced_lines[0], lines_at_start)

    monkeypatch.setattr(audit_mod.os, "fsync", slow_fsync)
    log = AuditLog(p, KEY)
    late: list[int] = []

    def worker(i: int) -> None:
        for j in range(10):
            e = log.append(actor=f"t{i}", action="x", resource=f"r{j}", purpose=None,
                           outcome="success")
            with guard:
                if e["seq"] > synced_lines[0]:
                    late.append(e["seq"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = verify_log(p, KEY)
    assert r.ok and r.entries == 80
    assert late == []  # no append returned before its entry was covered by a sync
    assert calls[0] < 80  # syncs were shared
