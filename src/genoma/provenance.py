"""Run provenance: what produced a result, from what, with which knowledge."""

from __future__ import annotations

import hashlib
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["InputFile", "KnowledgeVersion", "RunManifest", "sha256_file", "utcnow"]


def utcnow() -> str:
    """Current UTC time in ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


_STORE_METADATA = {"zarr.json", ".zmetadata", ".zattrs", ".zarray", ".zgroup"}


def sha256_tree(path: str | Path) -> tuple[str, int]:
    """Fingerprint of a directory input (a VCF Zarr store) and its total size in bytes.

    SHA-256 over every file's relative path and size, and the contents of the Zarr
    metadata files — not the chunk bytes (a store can be hundreds of GB): a changed
    array shape, dtype, attribute, file or file size changes the digest.
    """
    root = Path(path)
    h = hashlib.sha256()
    total = 0
    for f in sorted(q for q in root.rglob("*") if q.is_file()):
        rel = f.relative_to(root).as_posix()
        size = f.stat().st_size
        total += size
        h.update(f"{rel}\t{size}\n".encode())
        if f.name in _STORE_METADATA:
            h.update(f.read_bytes())
    return h.hexdigest(), total


class InputFile(BaseModel):
    """An input file with its checksum."""

    model_config = ConfigDict(frozen=True)

    role: str
    path: str
    sha256: str
    size: int

    @classmethod
    def of(cls, role: str, path: str | Path) -> InputFile:
        """Checksum ``path``: a file's SHA-256, or :func:`sha256_tree` of a directory."""
        p = Path(path)
        if p.is_dir():
            digest, size = sha256_tree(p)
            return cls(role=role, path=str(p), sha256=digest, size=size)
        return cls(role=role, path=str(p), sha256=sha256_file(p), size=p.stat().st_size)


class KnowledgeVersion(BaseModel):
    """A knowledge source (or model) used by the run."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    license: str = ""
    source: str = ""
    checksum: str | None = None


class RunManifest(BaseModel):
    """Provenance of one run: written as ``manifest.json`` in every output directory."""

    model_config = ConfigDict(extra="forbid")

    genoma_version: str
    command: str = ""
    started: str = Field(default_factory=utcnow)
    finished: str | None = None
    python: str = Field(default_factory=lambda: sys.version.split()[0])
    platform: str = Field(default_factory=platform.platform)
    genome_build: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    inputs: list[InputFile] = Field(default_factory=list)
    knowledge: list[KnowledgeVersion] = Field(default_factory=list)
    analyses: dict[str, str] = Field(default_factory=dict)
    """Analysis name → version."""
    outputs: list[str] = Field(default_factory=list)
    status: str = "running"

    @classmethod
    def start(cls, command: str = "", **parameters: Any) -> RunManifest:
        from genoma import __version__

        return cls(genoma_version=__version__, command=command, parameters=parameters)

    def add_knowledge(self, kv: KnowledgeVersion) -> None:
        """Record a knowledge source once (by name)."""
        if all(k.name != kv.name for k in self.knowledge):
            self.knowledge.append(kv)

    def finish(self, status: str = "ok") -> None:
        self.finished = utcnow()
        self.status = status
