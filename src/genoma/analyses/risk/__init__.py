"""Disease risk: polygenic scores (PGS Catalog), ancestry adjustment, absolute risk.

Modules
-------
matching
    Scoring-file variants → target sites, as pgsc_calc (match types, strand flips,
    palindromic and multi-allelic policies, duplicates, overlap guard, match report).
scoring
    Many scores in one pass over the target (sparse/dense weight matrix × dosages),
    plink2 ``--score`` sums and averages, mean imputation.
normalise
    pgsc_calc's ancestry adjustment: empirical percentile, Z_norm1, Z_norm2.
absolute
    Pooled cohort equations (10-year ASCVD) or a baseline incidence, combined with a
    score's hazard ratio per SD.
run
    The pipeline (match → score → ancestry → normalise → table), no file I/O.
findings
    ``polygenic_score`` / ``absolute_risk`` findings and :func:`risk_analysis`, the one
    call for the single-patient workflow.
train
    New scores from a cohort store: clumping + thresholding and lasso (elastic-net path),
    per-ancestry evaluation (incremental R² / AUC, calibration) and a PGS Catalog file.
"""

from genoma.analyses.risk.findings import risk_analysis, risk_findings

__all__ = ["risk_analysis", "risk_findings"]
