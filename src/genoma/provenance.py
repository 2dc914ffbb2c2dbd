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


class InputFile(BaseModel):
    """An input file with its checksum."""

    model_config = ConfigDict(frozen=True)

    role: str
    path: str
    sha256: str
    size: int

    @classmethod
    def of(cls, role: str, path: str | Path) -> InputFile:
        p = Path(path)
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
