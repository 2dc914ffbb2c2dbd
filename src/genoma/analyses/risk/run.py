"""The risk pipeline as plain functions: match → score → ancestry → normalise → table.

No file I/O here: the CLI (and the single-patient workflow) load the target, the
scoring files and the reference, then call :func:`match_all` (to write the match report
even when the overlap guard fails), :func:`check_overlap`, and :func:`score_target`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genoma.analyses.ancestry.assign import (
    AncestryResult,
    ReferenceGenotypes,
    ancestry_of_target,
)
from genoma.analyses.risk.matching import MatchPolicy, ScoreMatch, match_score
from genoma.analyses.risk.normalise import AdjustedScores, adjust_scores
from genoma.analyses.risk.scoring import ScoreResult, build_weights, compute_scores
from genoma.errors import InconsistentInputError
from genoma.io.pgs import ScoringFile, TargetGenotypes

__all__ = [
    "ANALYSIS_VERSION",
    "RiskRun",
    "match_all",
    "reference_as_target",
    "score_target",
]

ANALYSIS_VERSION = "0.1.0"
SCORE_COLUMNS = ["sample", "pgs_id", "sum", "avg", "allele_ct", "n_matched", "n_variants",
                 "overlap", "n_missing", "imputation", "z_norm1", "z_norm2",
                 "z_most_similar_pop", "percentile", "most_similar_population",
                 "population_low_confidence", "n_variants_normalised", "reference"]


@dataclass
class RiskRun:
    """Everything one scoring run produced.

    Attributes
    ----------
    matches
        Per score, the target match.
    result
        Score sums / averages of every target sample.
    table
        One row per sample × score (the ``scores.tsv`` columns).
    ancestry
        Reference projection and population assignment (``None`` without reference).
    adjusted
        pgs_id → ancestry adjustment (only scores the reference could be scored on).
    reference_scores
        pgs_id → reference sums (same variants as the adjustment), for plots.
    limitations
        Run-level caveats (no reference, too few shared sites, …).
    """

    matches: list[ScoreMatch]
    result: ScoreResult
    table: pd.DataFrame
    ancestry: AncestryResult | None = None
    adjusted: dict[str, AdjustedScores] = field(default_factory=dict)
    reference_scores: dict[str, np.ndarray] = field(default_factory=dict)
    target_norm_sums: dict[str, np.ndarray] = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)


def match_all(
    target: TargetGenotypes, scores: list[ScoringFile], policy: MatchPolicy | None = None
) -> list[ScoreMatch]:
    """Match every score to the target (build mismatch raises; low overlap does not).

    Raises
    ------
    InconsistentInputError
        A score's build differs from the target's (exit 5).
    """
    ids = [s.pgs_id for s in scores]
    if len(set(ids)) != len(ids):
        # the same accession twice (e.g. hmPOS 37 and 38): keep them apart by file name
        for s in scores:
            if ids.count(s.pgs_id) > 1:
                s.pgs_id = f"{s.pgs_id}:{s.path.name}"
    return [match_score(s, target, policy) for s in scores]


def reference_as_target(ref: ReferenceGenotypes) -> TargetGenotypes:
    """View a reference panel as a target (to score it with the same weights)."""
    from pathlib import Path

    g = ref.genotypes
    key = pd.Series([f"{c}:{p}" for c, p in zip(ref.chrom, ref.pos, strict=True)])
    multi = key.duplicated(keep=False).to_numpy()

    def read(rows: np.ndarray) -> np.ndarray:
        d = g[rows].astype(np.float64)
        d[d < 0] = np.nan
        return d

    return TargetGenotypes(
        path=Path(ref.name), samples=[str(s) for s in ref.samples],
        chrom=np.asarray(ref.chrom, dtype=object), pos=np.asarray(ref.pos, dtype=np.int64),
        ref=np.asarray(ref.ref, dtype=object), alt=np.asarray(ref.alt, dtype=object),
        ids=np.full(len(ref.pos), "", dtype=object), multiallelic=multi, build=ref.build,
        read_dosage=read, kind="reference")


def _restrict(m: ScoreMatch, keep: np.ndarray) -> ScoreMatch:
    """A copy of a match using only the variants in ``keep`` (others excluded)."""
    status = np.where(keep, m.status, np.where(m.status == "matched", "excluded", m.status))
    reason = np.where(keep | (m.status != "matched"), m.reason, "not_in_reference")
    row = np.where(status == "matched", m.target_row, -1)
    return ScoreMatch(score=m.score, target_row=row, effect_is_alt=m.effect_is_alt,
                      match_type=m.match_type, status=status, reason=reason, policy=m.policy)


def score_target(
    target: TargetGenotypes,
    matches: list[ScoreMatch],
    imputation: str = "auto",
    reference: ReferenceGenotypes | None = None,
    n_pcs_norm: int = 4,
    chunk_rows: int | None = None,
) -> RiskRun:
    """Score the target and, with a reference, adjust the scores for ancestry.

    Parameters
    ----------
    target
        Target genotypes.
    matches
        From :func:`match_all` (the caller has applied the overlap guard).
    imputation
        ``auto`` / ``mean`` / ``none`` (see :func:`~genoma.analyses.risk.scoring.compute_scores`).
    reference
        Reference panel with population labels; ``None`` skips ancestry (the Z and
        percentile columns are then empty).
    n_pcs_norm
        PCs used by Z_norm1 / Z_norm2 (pgsc_calc default 4).
    chunk_rows
        Rows per scoring chunk.

    Returns
    -------
    RiskRun
    """
    weights = build_weights(matches)
    result = compute_scores(target, weights, imputation=imputation, chunk_rows=chunk_rows)
    run = RiskRun(matches=matches, result=result, table=pd.DataFrame(),
                  parameters={"imputation": result.imputation, "n_pcs_norm": n_pcs_norm})
    ns, k = result.sums.shape
    z1 = np.full((ns, k), np.nan)
    z2 = np.full((ns, k), np.nan)
    ze = np.full((ns, k), np.nan)
    pct = np.full((ns, k), np.nan)
    n_norm = np.zeros(k, dtype=np.int64)
    pop = np.full(ns, "", dtype=object)
    lowc = np.full(ns, "", dtype=object)
    if reference is None:
        run.limitations.append(
            "No reference panel: scores are not adjusted for genetic ancestry and no "
            "percentile is given.")
    else:
        try:
            anc = ancestry_of_target(reference, target)
        except InconsistentInputError as exc:
            anc = None
            run.limitations.append(f"Ancestry not assessed: {exc.problem}")
        if anc is not None:
            run.ancestry = anc
            pop = anc.assignment.labels.astype(object)
            lowc = np.where(anc.assignment.low_confidence, "true", "false").astype(object)
            ref_t = reference_as_target(reference)
            for j, m in enumerate(matches):
                rm = match_score(m.score, ref_t, m.policy)
                both = (rm.status == "matched") & (m.status == "matched")
                if both.sum() < m.policy.min_overlap * m.n_variants:
                    run.limitations.append(
                        f"{m.score.pgs_id}: only {int(both.sum())} of {m.n_variants} score "
                        f"variants are in both the target and the reference "
                        f"{reference.name}; no ancestry-adjusted Z or percentile.")
                    continue
                w_t = build_weights([_restrict(m, both)])
                w_r = build_weights([_restrict(rm, both)])
                st = compute_scores(target, w_t, imputation=imputation,
                                    chunk_rows=chunk_rows).sums[:, 0]
                sr = compute_scores(ref_t, w_r, imputation="mean",
                                    chunk_rows=chunk_rows).sums[:, 0]
                adj = adjust_scores(anc.ref_pcs, sr, reference.populations, anc.target_pcs,
                                    st, anc.assignment.labels, ref_train=anc.ref_train,
                                    n_pcs=n_pcs_norm)
                run.adjusted[m.score.pgs_id] = adj
                run.reference_scores[m.score.pgs_id] = sr
                run.target_norm_sums[m.score.pgs_id] = st
                z1[:, j], z2[:, j], ze[:, j], pct[:, j] = (
                    adj.z_norm1, adj.z_norm2, adj.z_empirical, adj.percentile)
                n_norm[j] = int(both.sum())
    avgs = result.avgs
    ref_name = run.ancestry.reference if run.ancestry is not None else ""
    tab = {
        "sample": np.tile(np.asarray(result.samples, dtype=object), k),
        "pgs_id": np.repeat(np.array([m.score.pgs_id for m in matches], dtype=object), ns),
        "sum": result.sums.T.ravel(), "avg": avgs.T.ravel(),
        "allele_ct": result.allele_ct.T.ravel().astype(np.int64),
        "n_matched": np.repeat(result.n_matched, ns),
        "n_variants": np.repeat(result.n_variants, ns),
        "overlap": np.repeat(np.array([m.overlap for m in matches]), ns),
        "n_missing": result.n_missing.T.ravel().astype(np.int64),
        "imputation": result.imputation,
        "z_norm1": z1.T.ravel(), "z_norm2": z2.T.ravel(), "z_most_similar_pop": ze.T.ravel(),
        "percentile": pct.T.ravel(),
        "most_similar_population": np.tile(pop, k),
        "population_low_confidence": np.tile(lowc, k),
        "n_variants_normalised": np.repeat(n_norm, ns),
        "reference": ref_name,
    }
    run.table = pd.DataFrame(tab, columns=SCORE_COLUMNS)
    return run
