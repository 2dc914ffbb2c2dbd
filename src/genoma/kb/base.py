"""The one small interface every knowledge source implements, and the registry.

A knowledge source is a named, versioned, licensed body of data genoma needs (HPO,
CPIC/PharmVar tables, reference genotypes, gene models …). It is either *embedded*
(shipped by a PyPI package genoma depends on, available on a fresh machine) or
*installable* (an official release ``genoma kb install NAME`` downloads into the data
directory, verified by checksum). Analyses get knowledge only through this module.
"""

from __future__ import annotations

import abc
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from genoma.errors import KnowledgeError
from genoma.provenance import KnowledgeVersion

__all__ = [
    "KnowledgeSource",
    "Release",
    "all_sources",
    "get_source",
    "register",
    "sha256_files",
]


def sha256_files(paths: list[Path]) -> str:
    """One SHA-256 over several files (names and contents, in the given order)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Release:
    """An official downloadable release of a source (for ``genoma kb install``).

    Attributes
    ----------
    url
        Where the release file is published (``https://`` or, for mirrors and tests,
        ``file://``).
    sha256
        The expected checksum of the downloaded file; ``None`` when the publisher gives
        none (then the checksum of the first download is recorded and verified later).
    filename
        File name inside the source's data directory.
    """

    version: str
    url: str
    filename: str
    sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class KnowledgeSource(abc.ABC):
    """Base class of knowledge sources.

    Subclasses set the class attributes and implement :meth:`files` and :meth:`load`.
    ``load`` is cached per instance, so a source is parsed at most once per process.
    """

    name: ClassVar[str]
    """Short stable name used on the CLI (``hpo``, ``pgx``, ``1kg-peddy``, ``genes``)."""
    title: ClassVar[str]
    license: ClassVar[str]
    source: ClassVar[str]
    """Where the data comes from (package name and upstream URL)."""
    builds: ClassVar[tuple[str, ...]] = ()
    """Genome builds the source has coordinates for (empty when not coordinate-based)."""
    embedded: ClassVar[bool] = True

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """Version of the data (release date or upstream version)."""

    @abc.abstractmethod
    def files(self) -> list[Path]:
        """The files the source reads (for checksums and verification)."""

    @abc.abstractmethod
    def _load(self) -> Any:
        """Parse the source into its in-memory form."""

    def releases(self) -> list[Release]:
        """Official releases ``genoma kb install`` can fetch (empty if embedded only)."""
        return []

    def is_available(self) -> bool:
        """True when every file exists."""
        try:
            fs = self.files()
        except KnowledgeError:
            return False
        return bool(fs) and all(p.exists() for p in fs)

    def checksum(self) -> str:
        """SHA-256 over the source's files."""
        fs = self.files()
        missing = [str(p) for p in fs if not p.exists()]
        if missing:
            raise KnowledgeError(f"knowledge source {self.name!r} is missing files: {missing}")
        return sha256_files(fs)

    def verify(self) -> str:
        """Check the source is complete and loads; return its checksum.

        Raises
        ------
        KnowledgeError
            When files are missing, corrupt or do not parse.
        """
        digest = self.checksum()
        try:
            self.load()
        except KnowledgeError:
            raise
        except Exception as exc:  # a parse failure is a knowledge problem, not a bug
            raise KnowledgeError(f"knowledge source {self.name!r} does not load: {exc}") from exc
        return digest

    def load(self) -> Any:
        """The parsed source (cached)."""
        return self._loaded

    @cached_property
    def _loaded(self) -> Any:
        if not self.is_available():
            raise KnowledgeError(
                f"knowledge source {self.name!r} is not available"
                + ("" if self.embedded else f"; run `genoma kb install {self.name}`")
            )
        return self._load()

    def require_build(self, build: str) -> None:
        """Raise ``InconsistentInputError`` when the source has no data for ``build``."""
        if self.builds and build not in self.builds:
            from genoma.errors import InconsistentInputError

            raise InconsistentInputError(
                f"knowledge source {self.name!r} ({self.version}) has coordinates for "
                f"{', '.join(self.builds)} only, but the input is {build}"
            )

    def describe(self) -> KnowledgeVersion:
        """The provenance record of this source."""
        return KnowledgeVersion(
            name=self.name, version=self.version, license=self.license, source=self.source
        )


_REGISTRY: dict[str, type[KnowledgeSource]] = {}
_INSTANCES: dict[str, KnowledgeSource] = {}


def register(cls: type[KnowledgeSource]) -> type[KnowledgeSource]:
    """Class decorator: make a source known to the registry under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"knowledge source {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _import_sources(name: str | None = None) -> None:
    # Importing the modules registers their sources (only the one needed when known).
    from genoma.kb import sources

    sources.load(name)


def get_source(name: str) -> KnowledgeSource:
    """The (process-wide, cached) instance of a registered source.

    Raises
    ------
    KnowledgeError
        When no source has that name.
    """
    _import_sources(name)
    if name not in _REGISTRY:
        _import_sources()  # an unknown name: the error lists every source
    if name not in _REGISTRY:
        raise KnowledgeError(
            f"unknown knowledge source {name!r}; known: {', '.join(sorted(_REGISTRY))}"
        )
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def all_sources() -> list[KnowledgeSource]:
    """Every registered source, sorted by name."""
    _import_sources()
    return [get_source(n) for n in sorted(_REGISTRY)]


def reset_cache() -> None:
    """Forget cached instances (tests that change ``GENOMA_HOME`` use this)."""
    _INSTANCES.clear()
