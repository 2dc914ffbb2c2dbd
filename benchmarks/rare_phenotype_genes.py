"""Phenotype-only gene ranking: the true gene among 100 random genes (Phen2Gene protocol).

For each case with one causal gene: the candidates are the true gene + 100 genes drawn
(seeded per case) from a pool; genes are scored by their best disease's phenotype
log10 LR; the rank of the true gene is pessimistic on ties. Two pools:

* ``annotated``: genes with at least one HPO disease annotation (hard: every decoy
  has a phenotype profile);
* ``all``: every protein-coding gene of MANE Select v1.5 (most decoys have no
  phenotype annotation at all, closer to the published protocol).

Also the disease rank among all diseases (phenotype only), and a plain Resnik
(best-match-average) baseline for comparison. A small grid of parameters is fitted on
the ``fit`` split (top-1 of the annotated pool) and reported on ``test``.

Usage: ``python benchmarks/rare_phenotype_genes.py [--limit N] [--no-fit] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rare_common import (
    Ranks,
    case_genes,
    fmt,
    iter_split,
    load_cases,
    load_knowledge,
    rank_of,
)

from genoma.analyses.rare.phenotype import PhenotypeParams, score_phenotypes


def mane_genes() -> list[str]:
    """Protein-coding gene symbols of MANE Select v1.5 (shared data)."""
    import gzip

    from rare_common import RARE

    with gzip.open(RARE / "knowledge" / "MANE.GRCh38.v1.5.summary.txt.gz", "rt") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        i = head.index("symbol")
        return sorted({line.split("\t")[i] for line in fh if line.strip()})


def gene_scores(kn, row_scores: np.ndarray, genes: list[str]) -> dict[str, float]:
    """Best row score per gene (``-inf`` for genes without rows)."""
    out = {}
    for g in genes:
        rows = kn.gene_rows.get(g)
        out[g] = float(row_scores[rows].max()) if rows is not None and len(rows) else -np.inf
    return out


def resnik_scores(kn, observed: list[str]) -> np.ndarray:
    """Best-match-average Resnik similarity (patient → disease) for every row."""
    obs = [t for t in (kn.resolve(x) for x in observed) if t]
    if not obs:
        return np.zeros(kn.n_rows)
    tot = np.zeros(kn.n_rows)
    for q in obs:
        anc = kn.ancestors_cols(kn.col[q])
        present = kn.implied[:, anc].toarray() > 0
        tot += (present * kn.ic[anc][None, :]).max(axis=1)
    return tot / len(obs)


def evaluate(kn, cases, params, pools, rng_seed=0, with_resnik=False):
    res = {k: [] for k in pools}
    res_dis, res_resnik = [], []
    for c in cases:
        genes = case_genes(c)
        if len(genes) != 1:
            continue
        truth = genes[0]
        s = score_phenotypes(kn, c["hpo_present"], c["hpo_excluded"], params).log10_lr
        rng = random.Random(f"{rng_seed}:{c['id']}")
        for name, pool in pools.items():
            decoys = rng.sample([g for g in pool if g != truth], 100)
            res[name].append(rank_of(gene_scores(kn, s, [truth, *decoys]), truth))
        d = c["diseases"][0]
        if d in kn.row_of:
            row = kn.row_of[d]
            res_dis.append(int((s > s[row]).sum() + (s == s[row]).sum()))
        if with_resnik:
            rs = resnik_scores(kn, c["hpo_present"])
            decoys = random.Random(f"{rng_seed}:{c['id']}").sample(
                [g for g in pools["annotated"] if g != truth], 100)
            res_resnik.append(rank_of(gene_scores(kn, rs, [truth, *decoys]), truth))
    out = {k: Ranks(v).summary() for k, v in res.items()}
    out["disease_all"] = Ranks(res_dis).summary()
    if with_resnik:
        out["resnik_annotated"] = Ranks(res_resnik).summary()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="cases per split (0 = all)")
    ap.add_argument("--no-fit", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    t0 = time.time()
    kn = load_knowledge()
    print(f"knowledge: {kn.annotation_version}, HPO {kn.hpo_version}, {kn.n_rows} rows "
          f"({time.time() - t0:.1f} s)", file=sys.stderr)
    all_pool = mane_genes()
    pools = {"annotated": sorted(kn.gene_rows), "all": all_pool}
    cases = load_cases()
    fit = list(iter_split(cases, "fit"))
    test = list(iter_split(cases, "test"))
    if a.limit:
        fit, test = fit[: a.limit], test[: a.limit]
    best = PhenotypeParams()
    if not a.no_fit:
        grid = list(itertools.product([0.03, 0.1, 0.3], [0.4, 0.7, 1.0], [0.1, 0.3]))
        sub = fit[:600]
        scored = []
        for g, al, de in grid:
            p = PhenotypeParams(gamma=g, alpha=al, delta=de)
            r = evaluate(kn, sub, p, {"annotated": pools["annotated"]})["annotated"]
            scored.append((r["top1"], r["mrr"], p))
            print(f"fit {p}: top1 {r['top1']:.3f} mrr {r['mrr']:.3f}", file=sys.stderr)
        scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
        best = scored[0][2]
    t1 = time.time()
    res = evaluate(kn, test, best, pools, with_resnik=True)
    per_case = (time.time() - t1) / max(1, len(test))
    res["params"] = best.__dict__
    res["seconds_per_case"] = per_case
    res["knowledge"] = {"annotations": kn.annotation_version, "hpo": kn.hpo_version}
    print(json.dumps(res, indent=2))
    for k in ("annotated", "all", "resnik_annotated", "disease_all"):
        print(f"| {k} | {fmt(res[k])} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
