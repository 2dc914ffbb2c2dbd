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

from genoma.analyses.rare.phenotype import FEATURES, PhenotypeParams, score_phenotypes


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


def training_sets(kn, cases, params, n_hard=200, n_random=200, seed=0):
    """Feature matrices for the conditional-logit fit: per case, the true disease row
    first, then hard (top by LR, by Resnik and by the previous release's combined
    weights) and random negative rows; rows sharing the true gene are left out (they do
    not compete in a gene ranking). Returns ``{case id: matrix}``."""
    rng = np.random.default_rng(seed)
    out = {}
    base = PhenotypeParams(gamma=params.gamma, alpha=params.alpha, delta=params.delta,
                           eps_not=params.eps_not, model="lr")
    for c in cases:
        genes = case_genes(c)
        d = c["diseases"][0] if c["diseases"] else None
        if len(genes) != 1 or d not in kn.row_of:
            continue
        ph = score_phenotypes(kn, c["hpo_present"], c["hpo_excluded"], base)
        X = np.column_stack([ph.features[f] for f in FEATURES])
        true = kn.row_of[d]
        bad = np.zeros(kn.n_rows, dtype=bool)
        bad[kn.gene_rows.get(genes[0], [])] = True
        bad[true] = True
        cand = set(np.argsort(-ph.features["lr"])[: n_hard].tolist())
        cand |= set(np.argsort(-ph.features["resnik_pd"])[: n_hard].tolist())
        prev = sum(w * ph.features[f] for w, f in zip(PREVIOUS_WEIGHTS, FEATURES, strict=True))
        cand |= set(np.argsort(-prev)[: n_hard].tolist())
        cand |= set(rng.choice(kn.n_rows, n_random, replace=False).tolist())
        neg = np.array(sorted(r for r in cand if not bad[r]), dtype=np.int64)
        out[c["id"]] = X[np.r_[true, neg]].astype(np.float32)
    return out


#: The weights of the first combined model (six features, 1,500 fit cases), used to
#: pick hard negatives.
PREVIOUS_WEIGHTS = (0.1495, 3.5043, 0.3024, -2.2147, 6.5665, -0.0587, 0.0, 0.0, 0.0, 0.0)


def fit_weights(sets, l2=1e-2, bounds=None):
    """Conditional-logit weights (softmax over each case's rows, the true row first),
    features standardised for the optimiser and mapped back. ``bounds``: per-feature
    ``(low, high)`` sign constraints (on the standardised scale, same signs)."""
    from scipy.optimize import minimize

    allx = np.vstack(sets)
    mu, sd = allx.mean(axis=0), allx.std(axis=0) + 1e-9
    zs = [(x - mu) / sd for x in sets]

    def loss(w):
        tot, grad = 0.0, np.zeros_like(w)
        for z in zs:
            s = z @ w
            m = s.max()
            e = np.exp(s - m)
            z_sum = e.sum()
            tot += m + np.log(z_sum) - s[0]
            grad += (e / z_sum) @ z - z[0]
        n = len(zs)
        return tot / n + l2 * w @ w, grad / n + 2 * l2 * w

    w0 = np.zeros(allx.shape[1])
    w0[0] = 1.0
    r = minimize(loss, w0, jac=True, method="L-BFGS-B", bounds=bounds)
    return tuple(float(x) for x in r.x / sd), float(r.fun)


def model_scores(ph, weights) -> np.ndarray:
    """Phenotype score of every row for feature weights (``None`` = the plain LR)."""
    if weights is None:
        return ph.features["lr"]
    return sum(w * ph.features[f] for w, f in zip(weights, FEATURES, strict=True)) / np.log(10)


def evaluate(kn, cases, params, pools, rng_seed=0, with_resnik=False, models=None):
    """Ranks of the true gene for each model (``{name: weights or None}``), one pass."""
    models = models or {"genoma": params.weights if params.model == "combined" else None}
    res = {(m, k): [] for m in models for k in pools}
    res_dis = {m: [] for m in models}
    res_resnik = []
    for c in cases:
        genes = case_genes(c)
        if len(genes) != 1:
            continue
        truth = genes[0]
        ph = score_phenotypes(kn, c["hpo_present"], c["hpo_excluded"], params)
        d = c["diseases"][0]
        for m, w in models.items():
            s = model_scores(ph, w)
            rng = random.Random(f"{rng_seed}:{c['id']}")
            for name, pool in pools.items():
                decoys = rng.sample([g for g in pool if g != truth], 100)
                res[(m, name)].append(rank_of(gene_scores(kn, s, [truth, *decoys]), truth))
            if d in kn.row_of:
                row = kn.row_of[d]
                res_dis[m].append(int((s > s[row]).sum() + (s == s[row]).sum()))
        if with_resnik:
            rs = ph.features["resnik_pd"]
            decoys = random.Random(f"{rng_seed}:{c['id']}").sample(
                [g for g in pools["annotated"] if g != truth], 100)
            res_resnik.append(rank_of(gene_scores(kn, rs, [truth, *decoys]), truth))
    out = {f"{m}/{k}": Ranks(v).summary() for (m, k), v in res.items()}
    for m, v in res_dis.items():
        out[f"{m}/disease_all"] = Ranks(v).summary()
    if with_resnik:
        out["resnik/annotated"] = Ranks(res_resnik).summary()
    return out


#: Feature sets compared on the validation fit cases. ``all`` has sign constraints: the
#: issue requires excluded terms to count *against* a disease, so the extra weight of
#: the excluded terms' LR is ≥ 0 and that of ``excluded_shown`` ≤ 0. (Unconstrained, the
#: fit rewards diseases showing the excluded terms: phenopacket-store's excluded terms
#: are mostly features of the case's own disease that were checked and absent.)
MASKS = {"six": (0, 1, 2, 3, 4, 5), "all": tuple(range(len(FEATURES))),
         "all_unconstrained": tuple(range(len(FEATURES)))}
SIGNS = {"excluded": (0.0, None), "excluded_shown": (None, 0.0)}


def _bounds(name, mask):
    if name == "all_unconstrained":
        return None
    return [SIGNS.get(FEATURES[m], (None, None)) for m in mask]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="cases per split (0 = all)")
    ap.add_argument("--no-fit", action="store_true", help="use the default weights")
    ap.add_argument("--grid", action="store_true", help="also refit gamma/alpha/delta")
    ap.add_argument("--val", type=int, default=800,
                    help="last fit cases held out to choose the feature set; the chosen set "
                         "is then refitted on all fit cases")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    t0 = time.time()
    kn = load_knowledge(cached=True)
    print(f"knowledge: {kn.annotation_version}, HPO {kn.hpo_version}, {kn.n_rows} rows "
          f"({time.time() - t0:.1f} s)", file=sys.stderr)
    all_pool = mane_genes()
    pools = {"annotated": sorted(kn.gene_rows), "all": all_pool}
    cases = load_cases()
    fit = list(iter_split(cases, "fit"))
    test = list(iter_split(cases, "test"))
    if a.limit:
        fit, test = fit[: a.limit], test[: a.limit]
    lr_params = PhenotypeParams(model="lr")
    if a.grid:
        grid = list(itertools.product([0.03, 0.1, 0.3], [0.4, 0.7, 1.0], [0.1, 0.3]))
        scored = []
        for g, al, de in grid:
            p = PhenotypeParams(gamma=g, alpha=al, delta=de, model="lr")
            r = evaluate(kn, fit[:600], p, {"annotated": pools["annotated"]})[
                "genoma/annotated"]
            scored.append((r["top1"], r["mrr"], p))
            print(f"fit {p}: top1 {r['top1']:.3f} mrr {r['mrr']:.3f}", file=sys.stderr)
        scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
        lr_params = scored[0][2]
    best = PhenotypeParams(gamma=lr_params.gamma, alpha=lr_params.alpha,
                           delta=lr_params.delta)
    fit_info = {}
    if not a.no_fit:
        # conditional-logit weights fitted on the fit cases but the last --val ones; the
        # feature set chosen by top-1 on those (never on test); the chosen set refitted
        # on all fit cases
        val = fit[-a.val:]
        val_ids = {c["id"] for c in val}
        sets = training_sets(kn, fit, lr_params)
        train = [x for cid, x in sets.items() if cid not in val_ids]

        def fit_mask(name, mask, mats):
            w, loss = fit_weights([x[:, list(mask)] for x in mats],
                                  bounds=_bounds(name, mask))
            full = [0.0] * len(FEATURES)
            for i, m in enumerate(mask):
                full[m] = round(w[i], 4)
            return tuple(full), loss

        cands = {}
        for name, mask in MASKS.items():
            cands[name], loss = fit_mask(name, mask, train)
            fit_info[name] = {"weights": cands[name], "train_loss": loss}
        r = evaluate(kn, val, lr_params, {"annotated": pools["annotated"]},
                     models={**cands, "lr": None})
        for name in cands:
            fit_info[name]["val"] = r[f"{name}/annotated"]
        fit_info["lr_val"] = r["lr/annotated"]
        chosen = max((k for k in cands if k != "all_unconstrained"),
                     key=lambda k: r[f"{k}/annotated"]["top1"])
        final, loss = fit_mask(chosen, MASKS[chosen], list(sets.values()))
        fit_info["chosen"] = chosen
        fit_info["final_weights_all_fit_cases"] = final
        fit_info["n_train_cases"] = len(train)
        fit_info["n_all_fit_cases"] = len(sets)
        fit_info["n_val_cases"] = r["lr/annotated"]["n"]
        print(json.dumps(fit_info, indent=1), file=sys.stderr)
        best = PhenotypeParams(gamma=lr_params.gamma, alpha=lr_params.alpha,
                               delta=lr_params.delta, weights=final)
    t1 = time.time()
    models = {"combined": best.weights, "lr": None}
    if fit_info:
        models["unconstrained"] = fit_info["all_unconstrained"]["weights"]
    res = evaluate(kn, test, best, pools, with_resnik=True, models=models)
    per_case = (time.time() - t1) / max(1, len(test))
    res["params"] = best.__dict__
    res["fit"] = fit_info
    res["seconds_per_case"] = per_case
    res["knowledge"] = {"annotations": kn.annotation_version, "hpo": kn.hpo_version}
    print(json.dumps(res, indent=2))
    for k, v in res.items():
        if isinstance(v, dict) and "n" in v:
            print(f"| {k} | {fmt(v)} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
