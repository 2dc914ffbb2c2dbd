"""Pharmacogenomic knowledge: the CPIC / PharmVar tables shipped in PyPI ``pypgx``.

The embedded default is the set of tables in ``pypgx/api/data`` (MIT licensed; data
from CPIC (CC0) and PharmVar): star-allele definitions with core variants for GRCh37
and GRCh38, variant table, gene table (regions, phenotype method), diplotype →
phenotype map, CPIC gene–drug pairs and drug recommendations. They are exposed as
pandas DataFrames with pypgx's own column names; analyses compile what they need.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genoma.errors import KnowledgeError
from genoma.kb.base import KnowledgeSource, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PgxKnowledge", "PypgxTables"]

TABLES = {
    "alleles": "allele-table.csv",
    "variants": "variant-table.csv",
    "genes": "gene-table.csv",
    "cpic": "cpic-table.csv",
    "recommendations": "recommendation-table.csv",
    "phenotypes": "phenotype-table.csv",
    "diplotypes": "diplotype-table.csv",
    "cnvs": "cnv-table.csv",
    "equations": "equation-table.csv",
}


@dataclass(frozen=True)
class PgxKnowledge:
    """The pypgx tables as DataFrames (column names as pypgx ships them).

    Attributes
    ----------
    alleles
        ``Gene, StarAllele, ActivityScore, Function, GRCh37Core, GRCh37Tag, GRCh38Core,
        GRCh38Tag, SV``: core variants as comma-separated ``chrom-pos-ref-alt``.
    variants
        ``Gene, GRCh37Name, GRCh38Name, rsID, Chromosome, GRCh37Position,
        GRCh38Position, GRCh37Allele, GRCh38Allele, Variant, Impact, …``.
    genes
        One row per gene: ``Target, Control, Variants, SV, PhenotypeMethod, RefAllele,
        GRCh37Default, GRCh38Default, Strand, GRCh37Region, GRCh38Region, …``.
    cpic, recommendations, phenotypes, diplotypes, cnvs, equations
        The remaining pypgx tables.
    version
        ``pypgx <version>``.
    """

    alleles: pd.DataFrame
    variants: pd.DataFrame
    genes: pd.DataFrame
    cpic: pd.DataFrame
    recommendations: pd.DataFrame
    phenotypes: pd.DataFrame
    diplotypes: pd.DataFrame
    cnvs: pd.DataFrame
    equations: pd.DataFrame
    version: str


def _pypgx_data_dir() -> Path:
    try:
        dist = importlib.metadata.distribution("pypgx")
    except importlib.metadata.PackageNotFoundError as exc:
        raise KnowledgeError("the pypgx package (embedded PGx tables) is not installed") from exc
    return Path(str(dist.locate_file("pypgx/api/data")))


@register
class PypgxTables(KnowledgeSource):
    """CPIC / PharmVar tables embedded through PyPI ``pypgx``."""

    name = "pgx"
    title = "CPIC / PharmVar star-allele, phenotype and recommendation tables (pypgx)"
    license = "MIT (pypgx); CPIC data CC0; PharmVar allele definitions"
    source = "PyPI pypgx (https://github.com/sbslee/pypgx), pypgx/api/data"
    builds = ("GRCh37", "GRCh38")

    @property
    def version(self) -> str:
        try:
            return "pypgx-" + importlib.metadata.version("pypgx")
        except importlib.metadata.PackageNotFoundError:
            return "missing"

    def files(self) -> list[Path]:
        d = _pypgx_data_dir()
        return [d / f for f in TABLES.values()]

    def _load(self) -> PgxKnowledge:
        import pandas as pd

        d = _pypgx_data_dir()
        frames = {k: pd.read_csv(d / f) for k, f in TABLES.items()}
        return PgxKnowledge(**frames, version=self.version)
