"""Scoring speed: ``genoma risk score`` vs ``plink2 --score`` on the same simulated PLINK set.

Usage::

    python benchmarks/risk_speed.py --samples 20000 --sites 200000 --reps 3 \
        --workdir /tmp/risk_bench

Simulates a PLINK 1 fileset (``--samples`` × ``--sites``, 1% missing calls, written in
chunks straight to ``.bed``), one scoring file with every site (PGS Catalog columns,
for genoma) and the same weights as a plink2 score file (``ID A1 w…``), plus ten scores
(ten PGS files / ten weight columns). Each tool runs end to end as a process (genoma:
``python -c 'genoma.cli.risk.app()' score … --reference none``; plink2 ``--score …
cols=+scoresums``, default mean imputation, all threads). Runs are interleaved
(genoma, plink2, genoma, …) after one untimed run of each (page cache; numba compiles
genoma's kernels once and caches them on disk), and the medians of wall and CPU time
(user + system of the process) reported; the sums are compared (plink2 prints 6
significant digits). The load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

_CODE = np.array([3, 2, 0, 1], dtype=np.uint8)  # ALT(A1) count 0,1,2, missing → bed code


def simulate(work: Path, n: int, m: int, seed: int = 0) -> Path:
    """Write ``sim.bed/.bim/.fam`` (A1 = ALT, counted), chunk by chunk."""
    prefix = work / f"sim_{n}x{m}"
    bed = prefix.with_suffix(".bed")
    if bed.exists() and bed.stat().st_size == 3 + m * ((n + 3) // 4):
        return prefix
    rng = np.random.default_rng(seed)
    nb = (n + 3) // 4
    with open(bed, "wb") as fh:
        fh.write(bytes([0x6C, 0x1B, 0x01]))
        step = max(1, (1 << 25) // n)
        for s in range(0, m, step):
            k = min(step, m - s)
            p = rng.uniform(0.05, 0.5, k)[:, None]
            g = (rng.random((k, n)) < p).astype(np.uint8) + (rng.random((k, n)) < p)
            g[rng.random((k, n)) < 0.01] = 3
            c = _CODE[g]
            pad = np.zeros((k, nb * 4), dtype=np.uint8)
            pad[:, :n] = c
            pad = pad.reshape(k, nb, 4)
            packed = pad[:, :, 0] | (pad[:, :, 1] << 2) | (pad[:, :, 2] << 4) | (pad[:, :, 3] << 6)
            fh.write(packed.astype(np.uint8).tobytes())
    pos = np.arange(1, m + 1) * 10
    pd.DataFrame({"c": 1, "id": [f"v{i}" for i in range(m)], "cm": 0, "pos": pos,
                  "a1": "G", "a2": "A"}).to_csv(prefix.with_suffix(".bim"), sep="\t",
                                                header=False, index=False)
    pd.DataFrame({"f": [f"s{i}" for i in range(n)], "i": [f"s{i}" for i in range(n)],
                  "p": 0, "m": 0, "x": 0, "y": -9}).to_csv(prefix.with_suffix(".fam"),
                                                           sep=" ", header=False, index=False)
    return prefix


def score_files(work: Path, m: int, k: int, seed: int = 1) -> tuple[list[Path], Path]:
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.01, (m, k))
    pos = np.arange(1, m + 1) * 10
    files = []
    for j in range(k):
        f = work / f"score{m}_{k}_{j}.txt"
        if not f.exists():
            with open(f, "w") as fh:
                fh.write(f"#pgs_id=SIM{j}\n#genome_build=GRCh38\n")
                pd.DataFrame({"chr_name": 1, "chr_position": pos, "effect_allele": "G",
                              "other_allele": "A", "effect_weight": w[:, j]}).to_csv(
                    fh, sep="\t", index=False, float_format="%.17g")
        files.append(f)
    pf = work / f"plink_score{m}_{k}.tsv"
    if not pf.exists():
        cols = {"ID": [f"v{i}" for i in range(m)], "A1": "G"}
        cols.update({f"SIM{j}": w[:, j] for j in range(k)})
        pd.DataFrame(cols).to_csv(pf, sep="\t", index=False, float_format="%.17g")
    return files, pf


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + system of the child) of one process run."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def run_genoma(prefix: Path, files: list[Path], out: Path,
               src: str | None = None) -> tuple[float, float]:
    """``genoma risk score``; ``src``: another genoma source tree (PYTHONPATH) to time."""
    code = "import sys; from genoma.cli.risk import app; app(sys.argv[1:])"
    cmd = [sys.executable, "-c", code, "score", str(prefix), "--pgs", *map(str, files),
           "-o", str(out), "--force", "--reference", "none", "--target-build", "GRCh38"]
    env = None
    if src:
        env = dict(os.environ, PYTHONPATH=src)
    return _timed(cmd, env)


def run_plink2(prefix: Path, pf: Path, k: int, out: Path) -> tuple[float, float]:
    cols = ["3"] if k == 1 else []
    cmd = ["plink2", "--bfile", str(prefix), "--score", str(pf), "1", "2", *cols,
           "header-read", "cols=+scoresums", "--out", str(out)]
    if k > 1:
        cmd += ["--score-col-nums", f"3-{2 + k}"]
    return _timed(cmd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--sites", type=int, default=200000)
    ap.add_argument("--scores", default="1,10")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/risk_bench")
    ap.add_argument("--baseline-src", default=None,
                    help="A previous genoma source tree (e.g. `git archive HEAD src | tar -x "
                    "-C /tmp/old`, then /tmp/old/src) timed in the same interleaved runs.")
    a = ap.parse_args()
    if shutil.which("plink2") is None:
        sys.exit("plink2 not found: apt-get install -y plink2")
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    prefix = simulate(work, a.samples, a.sites)
    sim_s = time.perf_counter() - t0
    results = {"samples": a.samples, "sites": a.sites, "simulate_s": round(sim_s, 1),
               "load_before": os.getloadavg(), "nproc": os.cpu_count(), "runs": []}
    for k in map(int, a.scores.split(",")):
        files, pf = score_files(work, a.sites, k)
        # one untimed run each: page cache, numba's on-disk cache of compiled kernels
        run_genoma(prefix, files, work / f"g{k}")
        run_plink2(prefix, pf, k, work / f"p{k}")
        g_t, p_t, g_c, p_c, loads = [], [], [], [], []
        b_t, b_c = [], []
        for _ in range(a.reps):
            loads.append(round(os.getloadavg()[0], 1))
            if a.baseline_src:
                w, c = run_genoma(prefix, files, work / f"b{k}", a.baseline_src)
                b_t.append(w)
                b_c.append(c)
            w, c = run_genoma(prefix, files, work / f"g{k}")
            g_t.append(w)
            g_c.append(c)
            w, c = run_plink2(prefix, pf, k, work / f"p{k}")
            p_t.append(w)
            p_c.append(c)
        ours = pd.read_csv(work / f"g{k}" / "scores.tsv", sep="\t")
        peer = pd.read_csv(work / f"p{k}.sscore", sep="\t")
        maxrel = 0.0
        for j in range(k):
            col = f"SIM{j}_SUM"
            mine = ours[ours.pgs_id == f"SIM{j}"]["sum"].to_numpy()
            maxrel = max(maxrel, float(np.max(np.abs(mine - peer[col].to_numpy())
                                              / np.maximum(np.abs(peer[col].to_numpy()), 1e-3))))
        results["runs"].append({
            "scores": k, "genoma_s": [round(x, 2) for x in g_t],
            "plink2_s": [round(x, 2) for x in p_t],
            "genoma_median_s": round(statistics.median(g_t), 2),
            "plink2_median_s": round(statistics.median(p_t), 2),
            "ratio": round(statistics.median(g_t) / statistics.median(p_t), 2),
            "genoma_cpu_s": [round(x, 2) for x in g_c],
            "plink2_cpu_s": [round(x, 2) for x in p_c],
            "cpu_ratio": round(statistics.median(g_c) / statistics.median(p_c), 2),
            "load_1min_before_each_pair": loads,
            **({"baseline_s": [round(x, 2) for x in b_t],
                "baseline_cpu_s": [round(x, 2) for x in b_c],
                "baseline_median_s": round(statistics.median(b_t), 2),
                "baseline_ratio": round(statistics.median(b_t) / statistics.median(p_t), 2)}
               if b_t else {}),
            "max_rel_diff_sums": maxrel})
    results["load_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
