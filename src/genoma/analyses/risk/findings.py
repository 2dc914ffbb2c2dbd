"""Findings of the risk analysis, for the report and the single-patient workflow.

:func:`risk_findings` turns a :class:`~genoma.analyses.risk.run.RiskRun` into one
``polygenic_score`` finding per score for one sample (plus an ``absolute_risk`` finding
when a clinical model is given). Each ``polygenic_score`` finding's ``data`` carries
what the report needs to draw the score distribution with the patient marked (reference
Z values per population, histogram bins) and the PCA (reference PC1/PC2 by population,
the patient's point), and its text says that the score is *relative, not absolute*.

:func:`risk_analysis` is the one call for the workflow: match, guard, score, adjust,
findings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genoma.analyses.ancestry.assign import ReferenceGenotypes
from genoma.analyses.risk.absolute import AbsoluteRisk
from genoma.analyses.risk.matching import MatchPolicy, check_overlap
from genoma.analyses.risk.run import ANALYSIS_VERSION, RiskRun, match_all, score_target
from genoma.errors import InconsistentInputError
from genoma.io.pgs import ScoringFile, TargetGenotypes
from genoma.model.findings import Color, Confidence, Evidence, Finding, Limitation, ordinal

__all__ = ["RELATIVE_NOT_ABSOLUTE", "absolute_risk_finding", "risk_analysis", "risk_findings"]

ANALYSIS = "risk"
RELATIVE_NOT_ABSOLUTE = (
    "A polygenic score is relative, not absolute: it places this person among genetically "
    "similar people; it is not a probability of disease and most people with a high score "
    "never develop the condition.")


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _distribution(run: RiskRun, pgs_id: str, bins: int = 40) -> dict[str, Any] | None:
    adj = run.adjusted.get(pgs_id)
    if adj is None or run.ancestry is None:
        return None
    z = adj.ref_z_norm2 if np.isfinite(adj.ref_z_norm2).any() else adj.ref_z_norm1
    ok = np.isfinite(z)
    if not ok.any():
        return None
    lo, hi = float(np.floor(z[ok].min())), float(np.ceil(z[ok].max()))
    edges = np.linspace(lo, hi, bins + 1)
    pops = np.asarray(run.ancestry.ref_populations).astype(str)
    counts = {str(p): np.histogram(z[ok & (pops == p)], bins=edges)[0].tolist()
              for p in np.unique(pops)}
    return {"statistic": "z_norm2", "bin_edges": edges.round(4).tolist(),
            "counts_by_population": counts, "n_reference": int(ok.sum())}


def _pca_points(run: RiskRun, max_points: int = 600, seed: int = 0) -> dict[str, Any] | None:
    anc = run.ancestry
    if anc is None:
        return None
    rng = np.random.default_rng(seed)
    n = anc.ref_pcs.shape[0]
    pick = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    return {"reference": anc.reference, "n_shared_sites": anc.n_shared_sites,
            "ref_pc1": anc.ref_pcs[pick, 0].round(4).tolist(),
            "ref_pc2": anc.ref_pcs[pick, 1].round(4).tolist(),
            "ref_population": np.asarray(anc.ref_populations)[pick].astype(str).tolist()}


def risk_findings(run: RiskRun, sample: str) -> list[Finding]:
    """One ``polygenic_score`` finding per score for ``sample``.

    Raises
    ------
    InconsistentInputError
        ``sample`` is not in the run (exit 5).
    """
    samples = run.result.samples
    if sample not in samples:
        raise InconsistentInputError(f"sample {sample!r} is not in the scored target")
    i = samples.index(sample)
    pca = _pca_points(run)
    out: list[Finding] = []
    for m in run.matches:
        s = m.score
        row = run.table[(run.table["sample"] == sample) & (run.table["pgs_id"] == s.pgs_id)]
        r = row.iloc[0]
        pct, z2, z1 = _num(r["percentile"]), _num(r["z_norm2"]), _num(r["z_norm1"])
        pop = str(r["most_similar_population"] or "")
        trait = s.trait or s.pgs_id
        lims = [Limitation(text=RELATIVE_NOT_ABSOLUTE, code="PRS_RELATIVE_NOT_ABSOLUTE")]
        if m.overlap < 0.9:
            lims.append(Limitation(
                text=f"Only {m.n_matched} of {m.n_variants} score variants ({m.overlap:.0%}) "
                "were found in the genotypes.", code="PRS_LOW_OVERLAP"))
        lims.append(Limitation(
            text="Scores lose accuracy outside the ancestry of their training data "
            "(European-trained scores predict several-fold worse in African ancestry; "
            "Martin et al. 2019).", code="PRS_ANCESTRY_PORTABILITY"))
        if pct is None:
            lims.append(Limitation(
                text="No ancestry-matched reference distribution: no percentile.",
                code="PRS_NO_REFERENCE"))
        if run.result.imputation == "none" and int(r["n_missing"]) > 0:
            lims.append(Limitation(
                text=f"{int(r['n_missing'])} score genotypes missing and counted as "
                "absent (no imputation).", code="PRS_MISSING_GENOTYPES"))
        if pct is not None:
            summary = (f"{trait}: {ordinal(round(pct))} percentile among genetically similar people "
                       f"(most similar reference population: {pop}; Z = "
                       f"{(z2 if z2 is not None else z1):+.2f}). " + RELATIVE_NOT_ABSOLUTE)
        else:
            summary = (f"{trait}: raw score {float(r['sum']):.4g} from {m.n_matched} of "
                       f"{m.n_variants} variants; not placed in a reference distribution. "
                       + RELATIVE_NOT_ABSOLUTE)
        data: dict[str, Any] = {
            "pgs_id": s.pgs_id, "trait": s.trait, "name": s.name, "license": s.license,
            "scoring_build": s.build, "sum": _num(r["sum"]), "avg": _num(r["avg"]),
            "n_matched": m.n_matched, "n_variants": m.n_variants, "overlap": m.overlap,
            "z_norm1": z1, "z_norm2": z2, "percentile": pct,
            "most_similar_population": pop or None, "imputation": run.result.imputation,
            "interpretation": "relative, not absolute",
            "distribution": _distribution(run, s.pgs_id),
            "patient_z": z2 if z2 is not None else z1,
            "pca": pca,
        }
        if pca is not None and run.ancestry is not None:
            data["pca"] = {**pca, "patient_pc1": float(run.ancestry.target_pcs[i, 0]),
                           "patient_pc2": float(run.ancestry.target_pcs[i, 1])}
        out.append(Finding(
            analysis=ANALYSIS, analysis_version=ANALYSIS_VERSION, kind="polygenic_score",
            title=f"Polygenic score {s.pgs_id}" + (f" ({s.name})" if s.name else f" ({trait})" if s.trait else ""),
            summary=summary, subject=sample,
            confidence=Confidence.MODERATE if pct is not None else Confidence.LOW,
            color=Color.GREY, score=z2 if z2 is not None else z1,
            evidence=(Evidence(
                source="pgs-catalog", version=s.header.get("format_version", "custom"),
                identifier=s.pgs_id,
                url=(f"https://www.pgscatalog.org/score/{s.pgs_id}/"
                     if s.pgs_id.startswith("PGS") else None),
                description=(s.header.get("citation", "") + f" License: {s.license}").strip()),),
            limitations=tuple(lims), data=data))
    return out


def absolute_risk_finding(risk: AbsoluteRisk, sample: str, pgs_id: str | None) -> Finding:
    """An ``absolute_risk`` finding showing every input and the limits."""
    pct = f"{risk.risk:.1%}"
    title = ("10-year ASCVD risk (pooled cohort equations" if risk.model ==
             "pooled_cohort_equations" else f"{risk.horizon_years:g}-year risk (baseline "
             "incidence") + (f" + {pgs_id})" if pgs_id else ")")
    return Finding(
        analysis=ANALYSIS, analysis_version=ANALYSIS_VERSION, kind="absolute_risk",
        title=title,
        summary=(f"Estimated {risk.horizon_years:g}-year risk {pct} (clinical model alone "
                 f"{risk.baseline_risk:.1%}; polygenic relative hazard "
                 f"{risk.relative_hazard:.2f})."),
        subject=sample, confidence=Confidence.LOW, color=Color.GREY, score=risk.risk,
        limitations=tuple(Limitation(text=t) for t in risk.limitations),
        data=risk.as_dict())


def risk_analysis(
    target: TargetGenotypes,
    scores: list[ScoringFile],
    sample: str | None = None,
    reference: ReferenceGenotypes | None = None,
    policy: MatchPolicy | None = None,
    imputation: str = "auto",
) -> tuple[RiskRun, list[Finding]]:
    """Score one patient (or a cohort) and return the run with one sample's findings.

    Parameters
    ----------
    target
        From :func:`genoma.io.pgs.load_target`.
    scores
        From :func:`genoma.io.pgs.read_scoring_file`.
    sample
        The patient; the target's first sample when ``None``.
    reference
        Reference panel for ancestry (e.g. ``ReferenceGenotypes.from_panel(
        genoma.kb.refpanel.load(build))``); ``None`` skips it.
    policy, imputation
        Matching and imputation options.

    Raises
    ------
    InconsistentInputError
        Build mismatch or overlap below the guard (exit 5).
    """
    matches = match_all(target, scores, policy)
    check_overlap(matches)
    run = score_target(target, matches, imputation=imputation, reference=reference)
    who = sample if sample is not None else run.result.samples[0]
    return run, risk_findings(run, who)
