"""Portability of trained polygenic scores across ancestries (msprime OutOfAfrica_3G09).

For each seed: simulate ``--n`` individuals (a third each YRI/AFR, CEU/EUR, CHB/EAS) on
one ``--length`` bp chunk straight to VCF Zarr (:func:`genoma.sim.cohort.simulate_cohort`:
causal variants and per-allele effects shared by all ancestries, a population mean shift,
a quantitative trait ``qt`` and a liability-threshold binary trait ``cc``), hold out
``--test-per-pop`` samples of each ancestry, then train with
:func:`genoma.analyses.risk.train.train_score` on

* ``EUR-only``: ``--train-size`` EUR samples;
* ``multi``: the same number of samples, a third from each ancestry;

with C+T and the lasso (``--pcs`` PCs of the training samples as covariates), and report
R² (qt, incremental over sex and age) and AUC (cc) per ancestry on the common held-out
samples: mean ± sd over the seeds. Example::

    python benchmarks/risk_portability.py --seeds 1 2 3 --out /tmp/portability

Writes ``results.json`` and ``table.md`` into ``--out`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

CONFIGS = [("EUR-only", "ct"), ("EUR-only", "lasso"), ("multi", "ct"), ("multi", "lasso")]
ANCESTRIES = ("AFR", "EAS", "EUR")


def heritability_by_ancestry(ds, sim, anc: np.ndarray) -> dict[str, float]:
    """Variance of the simulated genetic value over the variance of ``qt``, per ancestry.

    The genetic value is recomputed as :func:`genoma.sim.cohort.simulate_phenotypes`
    draws it (effects per genotype standardised with the pooled allele frequency).
    """
    from genoma.model.cohort import alt_dosage

    idx = sim.causal["index"].to_numpy()
    g = np.asarray(alt_dosage(ds)[idx].compute(), dtype=np.float64)
    p = g.mean(axis=1, keepdims=True) / 2
    genetic = sim.causal["beta"].to_numpy() @ ((g - 2 * p) / np.sqrt(2 * p * (1 - p)))
    qt = sim.pheno["qt"].to_numpy()
    return {a: float(np.var(genetic[anc == a]) / np.var(qt[anc == a])) for a in ANCESTRIES}


def run_seed(seed: int, args: argparse.Namespace, work: Path) -> list[dict]:
    """Simulate one cohort and train/evaluate every configuration on it."""
    from genoma.analyses.risk.train import SUPERPOPULATION, train_score
    from genoma.io.vcz import open_cohort
    from genoma.sim.cohort import simulate_cohort

    t0 = time.time()
    store = work / f"seed{seed}.vcz"
    sim = simulate_cohort(store, args.n, args.length, seed=seed,
                          n_causal=args.n_causal, h2=args.h2, prevalence=args.prevalence)
    t_sim = time.time() - t0
    ds = open_cohort(sim.store)
    ids = sim.samples["sample"].to_numpy()
    anc = np.array([SUPERPOPULATION[p] for p in sim.samples["population"]])
    h2 = heritability_by_ancestry(ds, sim, anc)
    print(json.dumps({"seed": seed, "h2_by_ancestry": h2}), flush=True)
    if args.h2_only:
        shutil.rmtree(store, ignore_errors=True)
        return [{"seed": seed, "trait": "h2", **h2}]
    rng = np.random.default_rng(1000 + seed)
    test, eur_pool, multi_pool = [], [], []
    per = args.train_size // 3
    for a in ANCESTRIES:
        members = rng.permutation(ids[anc == a])
        test += list(members[:args.test_per_pop])
        rest = members[args.test_per_pop:]
        multi_pool += list(rest[:per])
        if a == "EUR":
            eur_pool += list(rest[:args.train_size])
    if len(eur_pool) < args.train_size:
        raise SystemExit(f"only {len(eur_pool)} EUR samples for training: raise --n")
    pools = {"EUR-only": eur_pool, "multi": multi_pool}
    out = []
    for trait in args.traits:
        for label, method in CONFIGS:
            keep = set(pools[label]) | set(test)
            ph = sim.pheno[sim.pheno["sample"].isin(keep)][["sample", trait]]
            t1 = time.time()
            res = train_score(ds, ph, sim.covar, method=method, train_samples=pools[label],
                              n_pcs=args.pcs, seed=seed)
            ev = res.evaluation[res.evaluation["set"] == "test"].set_index("ancestry")
            metric = "auc" if trait == "cc" else "r2"
            row = {"seed": seed, "trait": trait, "h2_by_ancestry": h2, "training": label, "method": method,
                   "n_train": sum(res.counts["train"].values()),
                   "n_validation": sum(res.counts["validation"].values()),
                   "n_variants": len(res.weights), "seconds": round(time.time() - t1, 1),
                   "simulate_seconds": round(t_sim, 1), "metric": metric,
                   "n_sim_variants": sim.n_variants}
            for a in ANCESTRIES:
                row[a] = float(ev.loc[a, metric]) if a in ev.index else math.nan
                row[f"{a}_slope"] = (float(ev.loc[a, "calibration_slope"])
                                     if a in ev.index else math.nan)
                row[f"n_test_{a}"] = int(ev.loc[a, "n"]) if a in ev.index else 0
            print(json.dumps(row), flush=True)
            out.append(row)
    if not args.keep_stores:
        shutil.rmtree(store, ignore_errors=True)
    return out


def table(rows: list[dict]) -> str:
    """Markdown: mean ± sd per configuration and ancestry, AFR/EUR ratio."""
    df = pd.DataFrame(rows)
    lines = []
    for trait, sub in df.groupby("trait", sort=False):
        metric = sub["metric"].iloc[0]
        name = "AUC" if metric == "auc" else "R²"
        lines += [f"**{trait}** ({name} on held-out samples, mean ± sd over "
                  f"{sub['seed'].nunique()} seeds)", "",
                  f"| training | method | n train | variants | {name} AFR | {name} EAS | "
                  f"{name} EUR | AFR / EUR | calibration slope EUR / AFR |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for (label, method), g in sub.groupby(["training", "method"], sort=False):
            cells = []
            for a in ANCESTRIES:
                v = g[a].to_numpy(float)
                cells.append(f"{np.nanmean(v):.3f} ± {np.nanstd(v, ddof=1) if len(v) > 1 else 0:.3f}")
            if metric == "auc":
                ratio = (g["AFR"] - 0.5) / (g["EUR"] - 0.5)
                rlabel = f"{np.nanmean(ratio):.2f} (AUC−0.5)"
            else:
                ratio = g["AFR"] / g["EUR"]
                rlabel = f"{np.nanmean(ratio):.2f}"
            slope = f"{g['EUR_slope'].mean():.2f} / {g['AFR_slope'].mean():.2f}"
            lines.append(f"| {label} | {'C+T' if method == 'ct' else 'lasso'} | "
                         f"{int(g['n_train'].mean())} | {int(g['n_variants'].mean())} | "
                         + " | ".join(cells) + f" | {rlabel} | {slope} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--n", type=int, default=6000, help="individuals simulated per seed")
    ap.add_argument("--length", type=int, default=5_000_000, help="bp per chunk")
    ap.add_argument("--n-causal", type=int, default=100)
    ap.add_argument("--h2", type=float, default=0.5)
    ap.add_argument("--prevalence", type=float, default=0.2)
    ap.add_argument("--train-size", type=int, default=1500)
    ap.add_argument("--test-per-pop", type=int, default=500)
    ap.add_argument("--pcs", type=int, default=4)
    ap.add_argument("--traits", nargs="+", default=["qt", "cc"])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--keep-stores", action="store_true", help="keep the simulated stores")
    ap.add_argument("--h2-only", action="store_true",
                    help="only simulate and report the heritability per ancestry")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    t0 = time.time()
    for seed in args.seeds:
        rows += run_seed(seed, args, args.out)
        (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    if args.h2_only:
        df = pd.DataFrame(rows)
        print(df.to_string())
        print("mean:", df[list(ANCESTRIES)].mean().round(3).to_dict())
        return
    md = table(rows)
    (args.out / "table.md").write_text(md)
    print(md)
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
