"""Run output directories: written whole to a temporary sibling, then renamed into place.

Every command that writes a directory uses :func:`run_directory`::

    with run_directory(out, force=force) as tmp:
        (tmp / "pgx.tsv").write_text(...)
    # now `out` holds the complete result (or is untouched if anything failed)

Without ``force`` an existing ``out`` is refused before anything is computed
(:func:`check_output_dir`), and nothing is overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genoma.errors import UsageError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_dir",
    "replace_directory",
    "run_directory",
    "run_log",
    "write_json",
]


def check_output_dir(out: str | Path, force: bool) -> Path:
    """Refuse an existing, non-empty output directory unless ``force``.

    Raises
    ------
    UsageError
        When ``out`` exists (exit 2); the message says to pass ``--force``.
    """
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise UsageError("output path exists and is not a directory", path=p)
    if p.exists() and any(p.iterdir()) and not force:
        raise UsageError("output directory exists; pass --force to replace it", path=p)
    return p


@contextlib.contextmanager
def run_directory(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``out`` atomically on success.

    On an exception the temporary directory is removed and ``out`` is left as it was.
    """
    final = check_output_dir(out, force).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_directory(tmp, final)


def replace_directory(tmp: Path, final: Path) -> None:
    """Move the complete directory ``tmp`` to ``final``, replacing any old ``final``.

    The old directory is first renamed aside, so ``final`` is never half-written: it is
    either the old complete directory or the new one.
    """
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def run_log(directory: str | Path, name: str = "run.log") -> Iterator[Path]:
    """Copy INFO-and-above log records to ``directory/name`` while the block runs.

    The root logger's level is lowered to INFO for the duration (stderr handlers keep
    their own levels) and restored afterwards; the handler is always removed.
    """
    import logging

    path = Path(directory) / name
    fh = logging.FileHandler(path, encoding="utf-8")
    fh.setLevel(logging.INFO)
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    prev = root.level
    root.addHandler(fh)
    root.setLevel(min(prev or logging.WARNING, logging.INFO))
    try:
        yield path
    finally:
        root.removeHandler(fh)
        root.setLevel(prev)
        fh.close()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON (indented, UTF-8) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
