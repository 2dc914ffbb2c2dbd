"""Outside pharmacogenomic calls: PharmCAT's outside-call TSV (and a multi-sample form).

Some genes cannot be called from a VCF (CYP2D6 deletions, duplications and hybrids;
HLA-A / HLA-B alleles). Their calls, made by other tools, are given in a tab-separated
file compatible with PharmCAT's outside-call format
(https://pharmcat.org/using/Outside-Call-Format/):

* lines starting with ``#`` are ignored, as are empty lines;
* each line has up to four tab-separated fields: HGNC gene symbol (required),
  diplotype or single allele call, phenotype, activity score; at least one of the last
  three is required.

Extension for multi-sample VCFs (not in PharmCAT, whose file describes one sample): a
header line whose first fields are ``sample`` and ``gene`` (optionally commented,
``#sample<TAB>gene<TAB>diplotype<TAB>phenotype<TAB>activity_score``) declares a leading
sample column. A header line starting with ``gene`` is also accepted and skipped.

Validation against the knowledge (so that a typo never becomes a silent wrong call):
the gene must be a gene of the knowledge (or HLA-A / HLA-B), every allele of the
diplotype must be one of the gene's alleles (a PharmVar sub-allele ``*1.001`` is
accepted when its core ``*1`` is known; copy-number ``*1x2`` and tandem ``*36+*10``
notation when each part is known; HLA alleles must look like ``*57:01``), the phenotype
must be one the knowledge lists for the gene (matched case-insensitively), the activity
score a number. Anything else raises :class:`~genoma.errors.MalformedInputError` naming
the file and line (exit 4).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genoma.errors import InputMissingError, MalformedInputError

if TYPE_CHECKING:
    from genoma.kb.pgx import PgxKnowledge

__all__ = ["HLA_GENES", "OutsideCall", "read_outside_calls"]

HLA_GENES = ("HLA-A", "HLA-B")
"""Genes accepted as outside calls although the allele tables do not define them."""

_HLA_ALLELE = re.compile(r"^\*\d{2,4}(:\d{2,4}){0,3}[A-Z]?$")
_EMPTY = {"", ".", "n/a", "na", "none"}


@dataclass(frozen=True)
class OutsideCall:
    """One outside call (one gene of one sample, or of every sample).

    Attributes
    ----------
    gene
        HGNC symbol.
    diplotype
        ``*1/*2`` or a single allele call, as written (``None`` when not given).
    phenotype
        Phenotype, canonicalised to the knowledge's spelling (``None`` when not given).
    activity_score
        Activity score (``None`` when not given).
    sample
        The sample it applies to; ``None`` in a PharmCAT-style file (every sample).
    path, line
        Where it came from.
    """

    gene: str
    diplotype: str | None
    phenotype: str | None
    activity_score: float | None
    sample: str | None
    path: str
    line: int

    @property
    def alleles(self) -> tuple[str, str | None] | None:
        """The diplotype's alleles (second ``None`` for a single-allele call)."""
        if self.diplotype is None:
            return None
        a, sep, b = self.diplotype.partition("/")
        return (a.strip(), b.strip() if sep else None)


def _blank(x: str) -> bool:
    return x.strip().lower() in _EMPTY


def read_outside_calls(path: str | Path, knowledge: PgxKnowledge) -> list[OutsideCall]:
    """Read and validate an outside-call file.

    Parameters
    ----------
    path
        The TSV file.
    knowledge
        The PGx knowledge the genes, alleles and phenotypes are checked against.

    Returns
    -------
    list of OutsideCall
        In file order.

    Raises
    ------
    InputMissingError
        The file does not exist or is not readable (exit 3).
    MalformedInputError
        A line names an unknown gene, allele or phenotype, has a non-numeric activity
        score, too few or too many fields, or repeats a gene (exit 4).
    """
    from genoma.analyses.pgx.phenotype import Phenotyper

    p = Path(path)
    if not p.is_file():
        raise InputMissingError("outside-call file not found", path=p)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputMissingError(f"outside-call file is not readable text ({exc})",
                                path=p) from exc
    known_genes = set(knowledge.alleles["Gene"].astype(str)) | set(HLA_GENES)
    phen = Phenotyper(knowledge)
    has_sample = False
    seen: dict[tuple[str | None, str], int] = {}
    out: list[OutsideCall] = []
    for ln, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if not seen:  # before the first call: a header line may declare the columns
            head = [f.strip().lower() for f in line.lstrip("#").strip().split("\t")]
            if head[0] == "sample" and len(head) > 1 and head[1] == "gene":
                has_sample = True
                continue
            if head[0] == "gene" and not line.startswith("#"):
                continue
        if line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        sample: str | None = None
        if has_sample:
            sample = fields.pop(0) if fields else ""
            if not sample:
                raise MalformedInputError("empty sample name", path=p, line=ln)
        if not fields or not fields[0]:
            raise MalformedInputError("missing gene symbol", path=p, line=ln)
        if len(fields) > 4:
            raise MalformedInputError(
                f"{len(fields)} fields; expected at most 4 (gene, diplotype, phenotype, "
                "activity score) separated by tabs", path=p, line=ln)
        fields += [""] * (4 - len(fields))
        gene, dip, ph, score_s = fields
        if gene not in known_genes:
            raise MalformedInputError(
                f"unknown gene {gene!r} (not in the PGx knowledge {knowledge.version})",
                path=p, line=ln)
        if all(_blank(x) for x in (dip, ph, score_s)):
            raise MalformedInputError(
                f"{gene}: give a diplotype, a phenotype or an activity score", path=p, line=ln)
        key = (sample, gene)
        if key in seen:
            raise MalformedInputError(
                f"{gene} given twice" + (f" for sample {sample}" if sample else "")
                + f" (first on line {seen[key]})", path=p, line=ln)
        seen[key] = ln
        diplotype = None if _blank(dip) else dip
        if diplotype is not None:
            parts = [x.strip() for x in diplotype.split("/")]
            if len(parts) > 2 or any(not x for x in parts):
                raise MalformedInputError(
                    f"{gene}: malformed diplotype {diplotype!r} (expected A/B or one allele)",
                    path=p, line=ln)
            for allele in parts:
                ok = (_HLA_ALLELE.match(allele) is not None if gene in HLA_GENES
                      else phen.gene(gene).is_known_allele(allele))
                if not ok:
                    raise MalformedInputError(
                        f"{gene}: unknown allele {allele!r} (not in the PGx knowledge "
                        f"{knowledge.version})", path=p, line=ln)
            diplotype = "/".join(parts)
        phenotype = None
        if not _blank(ph):
            phenotype = ph
            if gene not in HLA_GENES:
                allowed = {x.lower(): x for x in phen.gene(gene).phenotypes}
                allowed.setdefault("indeterminate", "Indeterminate")
                if ph.lower() not in allowed:
                    choices = ", ".join(sorted(phen.gene(gene).phenotypes)) or "none"
                    raise MalformedInputError(
                        f"{gene}: unknown phenotype {ph!r} (known: {choices})",
                        path=p, line=ln)
                phenotype = allowed[ph.lower()]
        score: float | None = None
        if not _blank(score_s):
            try:
                score = float(score_s.replace("≥", "").replace(">=", ""))
            except ValueError:
                score = math.nan
            if math.isnan(score) or score < 0:
                raise MalformedInputError(
                    f"{gene}: activity score {score_s!r} is not a non-negative number",
                    path=p, line=ln)
        out.append(OutsideCall(gene, diplotype, phenotype, score, sample, str(p), ln))
    return out
