"""What every analysis returns: findings with their evidence, recommendations and limits.

An analysis is a pure function that takes model objects and knowledge and returns a
list of :class:`Finding`. The report renderer turns an :class:`AnalysisResult` (the
findings of every analysis of one run plus the run manifest) into HTML, PDF, JSON and
FHIR. Nothing here knows about files.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genoma.model.variant import Variant
from genoma.provenance import RunManifest

__all__ = [
    "AnalysisResult",
    "Color",
    "Confidence",
    "Evidence",
    "Finding",
    "Limitation",
    "Recommendation",
]


class Confidence(StrEnum):
    """How far a finding can be trusted, given its inputs."""

    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"
    NOT_ASSESSABLE = "not_assessable"


class Color(StrEnum):
    """Traffic-light level for actionability (used by the drug table and risk cards)."""

    GREEN = "green"  # standard use / no action
    YELLOW = "yellow"  # adjust / consider
    RED = "red"  # avoid / act
    GREY = "grey"  # no recommendation / not assessable


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(_Strict):
    """A piece of evidence behind a finding, traceable to a versioned source."""

    source: str
    """Knowledge source name as in ``genoma kb list`` (e.g. ``pypgx-cpic``, ``hpo``)."""
    version: str
    identifier: str | None = None
    """An identifier inside the source (e.g. ``PA166104948``, ``OMIM:154700``)."""
    url: str | None = None
    description: str = ""


class Recommendation(_Strict):
    """An actionable recommendation (e.g. a CPIC drug recommendation)."""

    text: str
    drug: str | None = None
    genes: tuple[str, ...] = ()
    classification: str | None = None
    """Strength as the guideline states it (``Strong``, ``Moderate``, ``Optional`` …)."""
    color: Color = Color.GREY
    guideline: str | None = None
    evidence: tuple[Evidence, ...] = ()


class Limitation(_Strict):
    """Something the analysis could not assess, or a caveat on how to read it."""

    text: str
    code: str | None = None
    """A stable machine code (e.g. ``CYP2D6_CNV_NOT_ASSESSABLE``)."""


class Finding(_Strict):
    """One result of one analysis about one subject.

    Attributes
    ----------
    analysis, analysis_version
        Name and version of the analysis that produced the finding (``pgx``, ``0.1.0``).
    kind
        What sort of finding it is, unique within the analysis (``diplotype``,
        ``drug_recommendation``, ``diagnosis``, ``polygenic_score`` …).
    title, summary
        Short human title and one-paragraph explanation.
    subject
        The subject (sample) id.
    genes, variants
        The genes and variants involved.
    data
        Machine-readable payload specific to ``kind`` (documented by each analysis);
        only JSON-compatible values.
    """

    analysis: str
    analysis_version: str
    kind: str
    title: str
    summary: str = ""
    subject: str
    genes: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    confidence: Confidence = Confidence.MODERATE
    color: Color = Color.GREY
    rank: int | None = None
    score: float | None = None
    evidence: tuple[Evidence, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    limitations: tuple[Limitation, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)


class AnalysisResult(_Strict):
    """Everything one run produced for one subject: what the report renders."""

    subject: str
    findings: tuple[Finding, ...] = ()
    limitations: tuple[Limitation, ...] = ()
    """Run-level limitations (apply to the whole report)."""
    manifest: RunManifest
    patient: dict[str, Any] | None = None
    """The patient as JSON (``Patient.model_dump(mode='json')``), for the report header."""

    def by_analysis(self) -> dict[str, list[Finding]]:
        """Findings grouped by analysis, in first-seen order."""
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.analysis, []).append(f)
        return out


def ordinal(n: float) -> str:
    """English ordinal of ``n`` rounded to an integer: ``1st``, ``2nd``, ``11th``, ``82nd``.

    Used by finding summaries and the report for percentiles.
    """
    k = round(n)
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"
