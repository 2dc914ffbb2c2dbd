"""The rare-disease result as table rows, findings (kind ``diagnosis``) and a Phenopacket
``Interpretation``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genoma.analyses.rare.genotype import variant_key
from genoma.analyses.rare.knowledge import RareKnowledge
from genoma.analyses.rare.phenotype import PhenotypeScores
from genoma.analyses.rare.ranking import Candidate, TermMatch, explain_terms, moi_text
from genoma.model.findings import Confidence, Evidence, Finding, Limitation

__all__ = ["ANALYSIS", "ANALYSIS_VERSION", "TSV_COLUMNS", "RareResult"]

ANALYSIS = "rare"
ANALYSIS_VERSION = "0.3.0"

#: Columns of ``rare.tsv`` (the first six are the public contract).
TSV_COLUMNS = ("rank", "disease_id", "disease_name", "gene_symbol", "score", "variants",
               "log10_lr", "phenotype_log10_lr", "genotype_log10_lr", "inheritance",
               "mode_used", "genotype", "matched_terms", "phenotype_lr_only_log10",
               "resnik_patient_to_disease", "resnik_disease_to_patient", "variant_classes")


def _url(disease_id: str) -> str | None:
    if disease_id.startswith("OMIM:"):
        return f"https://omim.org/entry/{disease_id[5:]}"
    if disease_id.startswith("ORPHA:"):
        return f"https://www.orpha.net/en/disease/detail/{disease_id[6:]}"
    return None


@dataclass
class RareResult:
    """Everything one diagnosis run produced.

    Attributes
    ----------
    subject
        Patient id.
    candidates
        Ranked candidates, best first.
    phenotype
        The phenotype scores (to explain any candidate).
    knowledge
        The knowledge used.
    limitations
        Run-level caveats (no consequences, replaced / unknown terms, …).
    build
        Genome build of the variants (``None`` in phenotype-only runs).
    """

    subject: str
    candidates: list[Candidate]
    phenotype: PhenotypeScores
    knowledge: RareKnowledge
    limitations: list[Limitation] = field(default_factory=list)
    build: str | None = None

    def explain(self, c: Candidate) -> list[TermMatch]:
        """Term-by-term explanation of a candidate."""
        return explain_terms(self.knowledge, self.phenotype, c.row)

    def _feat(self, name: str, row: int) -> str:
        f = self.phenotype.features.get(name)
        return _num(float(f[row])) if f is not None and row >= 0 else ""

    def rows(self, top: int = 0) -> list[dict[str, Any]]:
        """``rare.tsv`` rows (all candidates when ``top`` is 0)."""
        out = []
        ph, kn = self.phenotype, self.knowledge
        for c in self.candidates[: top or None]:
            matched = []
            if c.row >= 0:
                for j, q in enumerate(ph.observed):
                    if ph.term_log10_lr[c.row, j] > 0:
                        matched.append(f"{q}~{kn.term_ids[int(ph.best_ancestor[c.row, j])]}")
            out.append({
                "rank": c.rank,
                "disease_id": c.disease_id,
                "disease_name": c.disease_name,
                "gene_symbol": c.gene,
                "score": f"{c.score:.6g}",
                "variants": ";".join(variant_key(v.variant) for v in c.variants),
                "log10_lr": _num(c.log10_lr),
                "phenotype_log10_lr": _num(c.pheno_log10_lr),
                "genotype_log10_lr": _num(c.geno_log10_lr),
                "inheritance": ",".join(c.moi),
                "mode_used": c.mode,
                "genotype": c.genotype_explanation,
                "matched_terms": ";".join(matched),
                "phenotype_lr_only_log10": self._feat("lr", c.row),
                "resnik_patient_to_disease": self._feat("resnik_pd", c.row),
                "resnik_disease_to_patient": self._feat("resnik_dp", c.row),
                "variant_classes": ";".join(v.variant_class or "" for v in c.variants),
            })
        return out

    def findings(self, top: int = 10) -> list[Finding]:
        """One ``diagnosis`` finding per top candidate, with its explanation."""
        out = []
        kv = self.knowledge
        for c in self.candidates[:top]:
            terms = self.explain(c)
            pos = [m for m in terms if m.kind in ("match", "ancestor") and m.log10_lr > 0]
            neg = [m for m in terms if m.log10_lr < 0]
            parts = [f"Phenotype score {c.pheno_log10_lr:+.2f} (log10)"]
            if c.row >= 0 and "lr" in self.phenotype.features:
                parts[0] += (f"; term likelihood ratios log10 "
                             f"{float(self.phenotype.features['lr'][c.row]):+.2f}")
            if pos:
                parts.append("matched: " + "; ".join(
                    f"{m.label or m.term}" + ("" if m.via == m.term else f" (via {m.via_label})")
                    for m in pos[:8]))
            if neg:
                parts.append("against: " + "; ".join(
                    ("no " if m.kind == "excluded" else "") + (m.label or m.term)
                    for m in neg[:5]))
            if c.mode:
                parts.append(f"genotype ({moi_text([c.mode])}) log10 LR {c.geno_log10_lr:+.2f}: "
                             f"{c.genotype_explanation}")
            parts.append(f"inheritance: {moi_text(c.moi)}")
            conf = Confidence.LOW
            if c.score >= 0.5 and c.variants:
                conf = Confidence.HIGH
            elif c.score >= 0.1:
                conf = Confidence.MODERATE
            out.append(Finding(
                analysis=ANALYSIS, analysis_version=ANALYSIS_VERSION, kind="diagnosis",
                title=f"{c.disease_name} ({c.disease_id})" + (f" — {c.gene}" if c.gene else ""),
                summary=". ".join(parts) + ".",
                subject=self.subject,
                genes=(c.gene,) if c.gene else (),
                variants=tuple(v.variant for v in c.variants),
                confidence=conf, rank=c.rank, score=c.score,
                evidence=(Evidence(source="hpo", version=f"{kv.hpo_version}; "
                                   f"{kv.annotation_version}", identifier=c.disease_id or None,
                                   url=_url(c.disease_id),
                                   description="HPO disease annotations"),),
                limitations=tuple(self.limitations),
                data={
                    "disease_id": c.disease_id, "gene": c.gene,
                    "log10_lr": _jnum(c.log10_lr),
                    "phenotype_log10_lr": _jnum(c.pheno_log10_lr),
                    "genotype_log10_lr": _jnum(c.geno_log10_lr),
                    "inheritance": list(c.moi), "mode_used": c.mode,
                    "genotype": c.genotype_explanation,
                    "variants": [{"variant": variant_key(v.variant), "zygosity": v.zygosity,
                                  "consequence": v.consequence, "impact": v.impact,
                                  "origin": v.origin, "weight": v.weight,
                                  "variant_class": v.variant_class}
                                 for v in c.variants],
                    "terms": [{"term": m.term, "label": m.label, "via": m.via,
                               "kind": m.kind, "log10_lr": round(m.log10_lr, 4)}
                              for m in terms],
                },
            ))
        return out

    def interpretation(self, top: int = 1) -> dict[str, Any]:
        """A Phenopacket v2 ``Interpretation`` (JSON dict) with the best diagnosis."""
        c = self.candidates[0] if self.candidates else None
        it: dict[str, Any] = {
            "id": f"{self.subject}-genoma-rare",
            "progressStatus": "IN_PROGRESS",
            "summary": f"genoma rare {ANALYSIS_VERSION}: top candidates " + ", ".join(
                f"{x.disease_id or '-'} {x.gene} (p={x.score:.3g})"
                for x in self.candidates[: max(top, 3)]),
        }
        if c is None or not c.disease_id:
            return it
        gis = []
        for v in c.variants:
            vd = {
                "id": variant_key(v.variant),
                "geneContext": {"valueId": c.gene, "symbol": c.gene},
                "vcfRecord": {"genomeAssembly": self.build or "", "chrom": v.variant.chrom,
                              "pos": str(v.variant.pos), "ref": v.variant.ref,
                              "alt": v.variant.alt},
                "allelicState": ({"id": "GENO:0000136", "label": "homozygous"}
                                 if v.copies >= 2 else
                                 {"id": "GENO:0000135", "label": "heterozygous"}),
            }
            gis.append({"subjectOrBiosampleId": self.subject,
                        "interpretationStatus": "CANDIDATE",
                        "variantInterpretation": {"variationDescriptor": vd}})
        if not gis and c.gene:
            gis.append({"subjectOrBiosampleId": self.subject,
                        "interpretationStatus": "CANDIDATE",
                        "gene": {"valueId": c.gene, "symbol": c.gene}})
        it["diagnosis"] = {"disease": {"id": c.disease_id, "label": c.disease_name},
                           "genomicInterpretations": gis}
        return it


def _num(x: float) -> str:
    return f"{x:.4f}" if np.isfinite(x) else "-inf"


def _jnum(x: float) -> float | None:
    return round(float(x), 4) if np.isfinite(x) else None
