"""Superpopulation assignment on held-out 1000 Genomes samples (peddy's 2,504 × 23,770).

Usage::

    python benchmarks/risk_ancestry_holdout.py [--build GRCh37] [--folds 5] [--seed 0]

Stratified K-fold: the reference PCA and the random forest are fitted without the
held-out fold, which is projected like a target; every sample is held out once.
Prints JSON (overall and per-superpopulation accuracy, confusion matrix).
"""

from __future__ import annotations

import argparse
import json
import time

from genoma.analyses.ancestry.assign import ReferenceGenotypes, evaluate_holdout
from genoma.kb import refpanel

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="GRCh37")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t0 = time.perf_counter()
    ref = ReferenceGenotypes.from_panel(refpanel.load(a.build))
    res = evaluate_holdout(ref, n_folds=a.folds, seed=a.seed)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["build"] = a.build
    print(json.dumps(res, indent=1))
