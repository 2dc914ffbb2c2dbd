"""Match scoring-file variants to target sites, as pgsc_calc (``pgscatalog-match``) does.

A score variant is a *candidate* for every target row at the same chromosome and
position (or, when the score gives no position, with the same rsID). Each candidate gets
a match type, in pgsc_calc's priority order:

=================  ==========================================================
``refalt``         effect = REF, other = ALT
``altref``         effect = ALT, other = REF
``refalt_flip``    the same on the opposite strand (alleles complemented)
``altref_flip``
``no_oa_ref``      no other allele in the score: effect = REF
``no_oa_alt``      no other allele: effect = ALT
``no_oa_ref_flip``
``no_oa_alt_flip``
=================  ==========================================================

The best candidate of each variant is kept; then, as pgsc_calc does by default,
matches are *excluded* when

* the target site is strand-ambiguous (palindromic SNP: REF is the complement of ALT)
  and ``keep_ambiguous`` is off;
* the target record is multi-allelic and ``keep_multiallelic`` is off;
* the match needs a strand flip and ``ignore_strand_flips`` is on;
* the variant has two equally good best candidates (``duplicate_best_match``), or two
  variants of the same score land on the same target site (``duplicate_target``).

The overlap of a score is the fraction of its variants that are matched; below
``min_overlap`` (default 0.75) the score fails, and the caller stops with the match
report written.

References
----------
Lambert SA et al. Enhancing the Polygenic Score Catalog with tools for score calculation
and ancestry normalization. Nat Genet 56, 1989–1994 (2024). doi:10.1038/s41588-024-01937-x
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import InconsistentInputError
from genoma.io.pgs import ScoringFile, TargetGenotypes

__all__ = [
    "MATCH_TYPES",
    "MatchPolicy",
    "ScoreMatch",
    "check_builds",
    "check_overlap",
    "match_report",
    "match_score",
    "match_scores",
]

MATCH_TYPES = (
    "refalt", "altref", "refalt_flip", "altref_flip",
    "no_oa_ref", "no_oa_alt", "no_oa_ref_flip", "no_oa_alt_flip",
)
_EFFECT_IS_ALT = np.array([False, True, False, True, False, True, False, True])
_IS_FLIP = np.array([False, False, True, True, False, False, True, True])
_COMP = str.maketrans("ACGTN", "TGCAN")
_DNA = set("ACGTN")


@dataclass(frozen=True)
class MatchPolicy:
    """Matching options (pgsc_calc defaults).

    Attributes
    ----------
    keep_ambiguous
        Keep palindromic (strand-ambiguous) SNPs, assuming the score is on the target's
        strand (pgsc_calc ``--keep_ambiguous``; default off).
    keep_multiallelic
        Keep matches to multi-allelic target records (``--keep_multiallelic``; off).
    ignore_strand_flips
        Do not accept matches on the opposite strand (``--ignore_strand_flips``; off).
    min_overlap
        Minimum fraction of a score's variants that must match (``--min_overlap``, 0.75).
    """

    keep_ambiguous: bool = False
    keep_multiallelic: bool = False
    ignore_strand_flips: bool = False
    min_overlap: float = 0.75


@dataclass
class ScoreMatch:
    """The match of one score to one target.

    Attributes
    ----------
    score
        The scoring file.
    target_row
        Target row of each score variant, ``-1`` when unmatched or excluded.
    effect_is_alt
        True where the effect allele is the target's ALT (dosage counted as is), False
        where it is REF (dosage ``2 - ALT``).
    match_type
        Best match type per variant (``""`` when no candidate).
    status
        ``matched`` / ``excluded`` / ``unmatched`` per variant.
    reason
        Why a variant is excluded or unmatched (``""`` when matched).
    """

    score: ScoringFile
    target_row: np.ndarray
    effect_is_alt: np.ndarray
    match_type: np.ndarray
    status: np.ndarray
    reason: np.ndarray
    policy: MatchPolicy = field(default_factory=MatchPolicy)

    @property
    def n_variants(self) -> int:
        """Variants in the score."""
        return self.score.n_variants

    @property
    def n_matched(self) -> int:
        """Variants used for scoring."""
        cached = self.__dict__.get("_n_matched")
        if cached is None or cached[0] is not self.status:
            cached = (self.status, int((self.status == "matched").sum()))
            self.__dict__["_n_matched"] = cached
        return int(cached[1])

    @property
    def overlap(self) -> float:
        """Fraction of the score's variants that are matched."""
        return self.n_matched / self.n_variants if self.n_variants else 0.0

    @property
    def passed(self) -> bool:
        """Overlap at least ``policy.min_overlap``."""
        return self.overlap >= self.policy.min_overlap

    def summary(self) -> dict[str, Any]:
        """Counts per status, match type and exclusion reason (one report row)."""
        row: dict[str, Any] = {
            "pgs_id": self.score.pgs_id,
            "n_variants": self.n_variants,
            "n_matched": self.n_matched,
            "n_excluded": int((self.status == "excluded").sum()),
            "n_unmatched": int((self.status == "unmatched").sum()),
            "overlap": round(self.overlap, 6),
            "min_overlap": self.policy.min_overlap,
            "passed": self.passed,
        }
        matched = self.status == "matched"
        for t in MATCH_TYPES:
            row[f"n_{t}"] = int(((self.match_type == t) & matched).sum())
        reasons, counts = np.unique(self.reason[self.reason != ""], return_counts=True)
        row["reasons"] = ";".join(f"{r}={c}" for r, c in zip(reasons, counts, strict=True))
        return row

    def log_frame(self, target: TargetGenotypes) -> pd.DataFrame:
        """Per-variant log: the score variant, its best target site, status and reason."""
        s = self.score
        tr = self.target_row
        has = tr >= 0
        tid = np.full(len(tr), "", dtype=object)
        tid[has] = (target.chrom[tr[has]].astype(str) + ":" + target.pos[tr[has]].astype(str)
                    + ":" + target.ref[tr[has]].astype(str) + ":"
                    + target.alt[tr[has]].astype(str))
        return pd.DataFrame({
            "pgs_id": s.pgs_id, "line": s.line, "chrom": s.chrom, "pos": s.pos,
            "rsid": s.rsid, "effect_allele": s.effect_allele,
            "other_allele": s.other_allele, "effect_weight": s.weight,
            "effect_type": s.effect_type, "match_type": self.match_type,
            "target_site": tid, "status": self.status, "reason": self.reason,
        })


def _per_unique(values: np.ndarray, fn: Any) -> np.ndarray:
    """``fn`` applied once per distinct value (object array aligned to ``values``)."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    codes, uniq = pd.factorize(np.asarray(values, dtype=object), sort=False)
    out = np.empty(len(uniq), dtype=object)
    out[:] = [fn(x) for x in uniq]
    return out[codes]


def _complement(a: np.ndarray) -> np.ndarray:
    return _per_unique(a, lambda x: x.translate(_COMP))


def check_builds(score: ScoringFile, target_build: str | None) -> None:
    """Refuse a score whose build differs from the target's (both known).

    Raises
    ------
    InconsistentInputError
        Score and target builds differ (exit 5): genoma never lifts over silently.
    """
    if score.build and target_build and score.build != target_build:
        raise InconsistentInputError(
            f"scoring file {score.pgs_id} is on {score.build} but the target is on "
            f"{target_build}; use the PGS Catalog harmonized file for {target_build} "
            f"(…_hmPOS_{target_build}.txt.gz)", path=score.path)


def match_score(
    score: ScoringFile, target: TargetGenotypes, policy: MatchPolicy | None = None
) -> ScoreMatch:
    """Match one score's variants to the target's sites.

    Parameters
    ----------
    score
        The scoring file.
    target
        Target sites (only the site arrays are used).
    policy
        Matching options; pgsc_calc defaults when ``None``.

    Returns
    -------
    ScoreMatch
        Per-variant match (never raises on low overlap: see :func:`check_overlap`).

    Raises
    ------
    InconsistentInputError
        Score and target on different builds (exit 5).
    """
    policy = policy or MatchPolicy()
    check_builds(score, target.build)
    n = score.n_variants
    ea = score.effect_allele
    oa = score.other_allele
    valid = _per_unique(ea, lambda a: set(a) <= _DNA).astype(bool)
    sdf = pd.DataFrame({"i": np.arange(n), "chrom": score.chrom, "pos": score.pos,
                        "rsid": score.rsid})
    tdf = pd.DataFrame({"row": np.arange(target.n_sites), "chrom": target.chrom,
                        "pos": target.pos, "tid": target.ids})
    by_pos = sdf[(sdf["pos"] > 0) & valid].merge(tdf, on=["chrom", "pos"], how="inner")
    pieces = [by_pos[["i", "row"]]]
    no_pos = sdf[(sdf["pos"] == 0) & (sdf["rsid"] != "") & valid]
    if len(no_pos):
        by_id = no_pos.merge(tdf[tdf["tid"] != ""], left_on="rsid", right_on="tid",
                             how="inner")
        pieces.append(by_id[["i", "row"]])
    cand = pd.concat(pieces, ignore_index=True)
    ci = cand["i"].to_numpy(dtype=np.int64)
    cr = cand["row"].to_numpy(dtype=np.int64)
    c_ea, c_oa = ea[ci], oa[ci]
    c_ref, c_alt = target.ref[cr], target.alt[cr]
    f_ea, f_oa = _complement(c_ea), _complement(c_oa)
    has_oa = c_oa != ""
    conds = [
        has_oa & (c_ea == c_ref) & (c_oa == c_alt),
        has_oa & (c_ea == c_alt) & (c_oa == c_ref),
        has_oa & (f_ea == c_ref) & (f_oa == c_alt),
        has_oa & (f_ea == c_alt) & (f_oa == c_ref),
        ~has_oa & (c_ea == c_ref),
        ~has_oa & (c_ea == c_alt),
        ~has_oa & (f_ea == c_ref),
        ~has_oa & (f_ea == c_alt),
    ]
    prio = np.full(len(ci), len(MATCH_TYPES), dtype=np.int64)
    for k in range(len(MATCH_TYPES) - 1, -1, -1):
        prio[conds[k]] = k
    if policy.ignore_strand_flips:
        prio[_IS_FLIP[np.minimum(prio, 7)] & (prio < len(MATCH_TYPES))] = len(MATCH_TYPES)
    ok = prio < len(MATCH_TYPES)
    ci, cr, prio = ci[ok], cr[ok], prio[ok]

    target_row = np.full(n, -1, dtype=np.int64)
    mtype = np.full(n, "", dtype=object)
    mcode = np.full(n, -1, dtype=np.int64)
    status = np.full(n, "unmatched", dtype=object)
    reason = np.full(n, "", dtype=object)
    reason[~valid] = "unsupported_allele"
    reason[valid & (score.pos == 0) & (score.rsid == "")] = "no_position"
    reason[(reason == "")] = "no_target_site"
    if len(ci):
        # best candidate per variant (lowest priority value); count ties
        order = np.lexsort((cr, prio, ci))
        ci, cr, prio = ci[order], cr[order], prio[order]
        first = np.r_[True, ci[1:] != ci[:-1]]
        best_i, best_r, best_p = ci[first], cr[first], prio[first]
        # ties: same variant, same best priority, another row
        same_best = np.r_[False, (ci[1:] == ci[:-1]) & (prio[1:] == prio[:-1])]
        tied = np.unique(ci[same_best]) if same_best.any() else np.empty(0, np.int64)
        target_row[best_i] = best_r
        mtype[best_i] = np.array(MATCH_TYPES, dtype=object)[best_p]
        mcode[best_i] = best_p
        status[best_i] = "matched"
        reason[best_i] = ""
        # variants with a position candidate but no allele match stay unmatched
        excl = np.full(n, "", dtype=object)
        r = target_row[best_i]
        ref, alt = target.ref[r], target.alt[r]
        is_snv = (_per_unique(ref, len).astype(np.int64) == 1) & (
            _per_unique(alt, len).astype(np.int64) == 1)
        ambiguous = is_snv & (_complement(alt) == ref)
        if not policy.keep_ambiguous:
            excl[best_i[ambiguous]] = "ambiguous"
        if not policy.keep_multiallelic:
            mm = target.multiallelic[r] & (excl[best_i] == "")
            excl[best_i[mm]] = "multiallelic"
        tb = np.intersect1d(tied, best_i, assume_unique=True)
        excl[tb] = np.where(excl[tb] == "", "duplicate_best_match", excl[tb])
        # two variants of this score on one target site
        rows_used = target_row[best_i]
        cnt = np.bincount(rows_used, minlength=target.n_sites)
        if (cnt > 1).any():
            d = best_i[(cnt[rows_used] > 1) & (excl[best_i] == "")]
            excl[d] = "duplicate_target"
        ex = excl != ""
        status[ex] = "excluded"
        reason[ex] = excl[ex]
    not_matched_any = status == "unmatched"
    # a position hit whose alleles never matched
    if len(by_pos):
        pos_hit = np.zeros(n, dtype=bool)
        pos_hit[by_pos["i"].to_numpy(dtype=np.int64)] = True
        reason[not_matched_any & pos_hit] = "allele_mismatch"
    target_row[status != "matched"] = -1
    eff_alt = np.zeros(n, dtype=bool)
    has_type = mcode >= 0
    eff_alt[has_type] = _EFFECT_IS_ALT[mcode[has_type]]
    return ScoreMatch(score=score, target_row=target_row, effect_is_alt=eff_alt,
                      match_type=mtype, status=status, reason=reason, policy=policy)


def match_scores(
    scores: list[ScoringFile], target: TargetGenotypes, policy: MatchPolicy | None = None
) -> list[ScoreMatch]:
    """Match several scores to one target (see :func:`match_score`)."""
    return [match_score(s, target, policy) for s in scores]


def match_report(matches: list[ScoreMatch]) -> pd.DataFrame:
    """One summary row per score (counts by status, match type and reason)."""
    return pd.DataFrame([m.summary() for m in matches])


def check_overlap(matches: list[ScoreMatch]) -> None:
    """Raise when any score's overlap is below its policy's ``min_overlap``.

    Raises
    ------
    InconsistentInputError
        Naming each failing score with its overlap (exit 5).
    """
    bad = [m for m in matches if not m.passed]
    if bad:
        detail = "; ".join(
            f"{m.score.pgs_id}: {m.n_matched}/{m.n_variants} = {m.overlap:.1%}" for m in bad)
        raise InconsistentInputError(
            f"too few score variants match the target (minimum overlap "
            f"{bad[0].policy.min_overlap:.0%}): {detail}", path=bad[0].score.path)
