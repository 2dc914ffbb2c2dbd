"""Benchmark: ``genoma cohort gwas`` vs ``plink2 --glm`` on a simulated cohort.

Usage::

    python benchmarks/cohort_glm.py prepare --samples 20000 --length 11000000 --work /tmp/bench
    python benchmarks/cohort_glm.py run --work /tmp/bench --repeats 3

``prepare`` simulates the cohort straight to Zarr (msprime OutOfAfrica_3G09), exports the
same genotypes to PLINK 1 ``.bed`` (vectorised 2-bit packing, chunk by chunk), converts
that to ``.pgen`` for plink2 and builds genoma's carrier index (sparse stores) or 2-bit
packed copy of the calls (dense stores, :mod:`genoma.io.packed`) in the store (all outside
the timings; the build is timed and reported, as plink2's ``.pgen`` conversion).
``pack`` adds the packed copy to an existing work directory.
``run`` times, interleaved and repeated, plink2 ``--glm`` (2 threads) and
``genoma cohort gwas`` with the threaded scheduler and on a LocalCluster of 1 and 2
single-threaded workers, plus an in-process breakdown of the genoma run (imports, store
opening, design, scan through the carrier index, variant table, gwas.tsv text) and, with ``--dense``,
the dense scan of ``call_genotype`` for reference. It reports medians of wall and CPU
time, peak RSS (largest process of the run, from ``getrusage(RUSAGE_CHILDREN)`` of a fresh
runner process), the machine load, and the agreement of the two result tables.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

PY = sys.executable
#: What the ``genoma`` console script runs (``genoma.cli.main:run``).
CLI = "from genoma.cli.main import run; run()"

_CODE = {2: 0b00, 1: 0b10, 0: 0b11, -1: 0b01}


def write_bed(ds, prefix: Path, chunk: int = 5000) -> None:
    """Write the first-ALT dosages of a cohort as PLINK 1 bed/bim/fam (A1 = ALT)."""
    from genoma.analyses.cohort.gwas import variant_table
    from genoma.model.cohort import alt_dosage_block

    lut = np.zeros(256, dtype=np.uint8)
    for k, v in _CODE.items():
        lut[k & 0xFF] = v
    n = ds.sizes["samples"]
    pad = (-n) % 4
    g = ds["call_genotype"]
    with open(f"{prefix}.bed", "wb") as fh:
        fh.write(bytes([0x6C, 0x1B, 0x01]))
        for start in range(0, ds.sizes["variants"], chunk):
            d = alt_dosage_block(g[start:start + chunk].values)
            codes = lut[d.view(np.uint8)]
            if pad:
                codes = np.pad(codes, ((0, 0), (0, pad)), constant_values=0b01)
            packed = (codes[:, 0::4] | (codes[:, 1::4] << 2) | (codes[:, 2::4] << 4)
                      | (codes[:, 3::4] << 6)).astype(np.uint8)
            fh.write(packed.tobytes())
    vt = variant_table(ds)
    vid = vt.chrom + ":" + vt.pos.astype(str) + ":" + np.arange(len(vt)).astype(str)
    bim = pd.DataFrame({"c": vt.chrom.str.replace("chr", ""), "id": vid, "cm": 0, "pos": vt.pos,
                        "a1": vt.alt, "a2": vt.ref})
    bim.to_csv(f"{prefix}.bim", sep="\t", header=False, index=False)
    ids = np.asarray(ds["sample_id"].values).astype(str)
    pd.DataFrame({"f": 0, "i": ids, "p": 0, "m": 0, "s": 0, "y": -9}).to_csv(
        f"{prefix}.fam", sep="\t", header=False, index=False)


def prepare(args: argparse.Namespace) -> None:
    from genoma.io.vcz import open_cohort
    from genoma.sim.cohort import simulate_cohort, simulate_phenotypes

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sim = work / "sim"
    t = time.perf_counter()
    if not (sim / "cohort.vcz").exists():
        sim.mkdir(exist_ok=True)
        res = simulate_cohort(sim / "cohort.vcz", args.samples, args.length, seed=args.seed,
                              variants_chunk_size=args.variants_chunk, min_maf=args.min_maf,
                              max_variants=args.max_variants)
        res.pheno.to_csv(sim / "pheno.tsv", sep="\t", index=False, float_format="%.8g")
        res.covar.to_csv(sim / "covar.tsv", sep="\t", index=False)
        res.samples.to_csv(sim / "samples.tsv", sep="\t", index=False)
    elif not (sim / "pheno.tsv").exists():
        ds = open_cohort(sim / "cohort.vcz")
        pheno, covar, _ = simulate_phenotypes(ds, ds["sample_population"].values,
                                              seed=args.seed + 2)
        pheno.to_csv(sim / "pheno.tsv", sep="\t", index=False, float_format="%.8g")
        covar.to_csv(sim / "covar.tsv", sep="\t", index=False)
    t_sim = time.perf_counter() - t
    ds = open_cohort(sim / "cohort.vcz")
    t = time.perf_counter()
    write_bed(ds, work / "plink")
    t_bed = time.perf_counter() - t
    t = time.perf_counter()
    from genoma.io.carriers import GROUP, build_carrier_index

    idx = build_carrier_index(ds) if not args.no_carrier_index else None
    t_idx = time.perf_counter() - t
    packed_info = {} if args.no_packed_calls else _pack(ds, sim / "cohort.vcz")
    pheno = pd.read_csv(sim / "pheno.tsv", sep="\t")
    covar = pd.read_csv(sim / "covar.tsv", sep="\t")
    pheno.rename(columns={"sample": "#IID"}).assign(cc=lambda x: x.cc + 1).to_csv(
        work / "plink.pheno", sep="\t", index=False)
    covar.rename(columns={"sample": "#IID"}).to_csv(work / "plink.covar", sep="\t", index=False)
    subprocess.run(["plink2", "--bfile", str(work / "plink"), "--make-pgen", "--out",
                    str(work / "plink"), "--threads", "2"], check=True, capture_output=True)
    info = {"samples": int(ds.sizes["samples"]), "variants": int(ds.sizes["variants"]),
            "simulate_s": round(t_sim, 1), "bed_export_s": round(t_bed, 1),
            "store_bytes": sum(f.stat().st_size for f in (sim / "cohort.vcz").rglob("*")
                               if f.is_file()),
            "pgen_bytes": (work / "plink.pgen").stat().st_size,
            "min_maf": args.min_maf, "max_variants": args.max_variants}
    if idx is not None:
        info.update({"carrier_index_s": round(t_idx, 1), "carrier_entries": int(idx.offsets[-1]),
                     "carrier_index_bytes": sum(f.stat().st_size for f in
                                                (sim / "cohort.vcz" / GROUP).rglob("*")
                                                if f.is_file())})
    info.update(packed_info)
    (work / "prepare.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))


def _pack(ds, store: Path) -> dict[str, float]:
    """Build the packed copy when the store is dense (as ``--packed-calls auto`` would)."""
    from genoma.io.packed import GROUP as PGROUP
    from genoma.io.packed import ensure_packed_calls

    t = time.perf_counter()
    c = time.process_time()
    pc = ensure_packed_calls(ds)
    if pc is None:
        return {}
    return {"packed_calls_s": round(time.perf_counter() - t, 1),
            "packed_calls_cpu_s": round(time.process_time() - c, 1),
            "packed_calls_bytes": sum(f.stat().st_size for f in (store / PGROUP).rglob("*")
                                      if f.is_file())}


def pack(args: argparse.Namespace) -> None:
    """Add the packed copy to the store of an existing work directory."""
    from genoma.io.vcz import open_cohort

    work = Path(args.work)
    store = work / "sim" / "cohort.vcz"
    info = json.loads((work / "prepare.json").read_text())
    info.update(_pack(open_cohort(store), store))
    (work / "prepare.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, all descendants) and peak RSS (MiB) of
    ``cmd`` run by a fresh runner process."""
    runner = ("import resource,subprocess,sys,time,json;t=time.perf_counter();"
              "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
              "w=time.perf_counter()-t;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
              "print(json.dumps([r.returncode,w,u.ru_utime+u.ru_stime,u.ru_maxrss/1024]))")
    out = subprocess.run([PY, "-c", runner, *cmd], capture_output=True, text=True, env=env,
                         check=True)
    rc, wall, cpu, rss = json.loads(out.stdout)
    if rc != 0:
        raise RuntimeError(f"failed ({rc}): {' '.join(cmd)}")
    return wall, cpu, rss


#: In-process breakdown of one genoma run (same steps as the CLI, without its output).
_BREAKDOWN = """
import json, os, sys, time
t0 = time.perf_counter()
import dask, pandas as pd
from genoma.analyses.cohort.gwas import _table, gwas, make_design, tsv_chunks
from genoma.io.vcz import open_cohort
import dask.threaded
dask.config.set(scheduler=dask.threaded.get)  # as the CLI: no distributed import
store, pheno, covar, name, mode, model = sys.argv[1:7]
t1 = time.perf_counter()
ds = open_cohort(store)
t2 = time.perf_counter()
design = make_design(ds["sample_id"].values, pd.read_csv(pheno, sep="\\t"),
                     pd.read_csv(covar, sep="\\t"), pheno_column=name, model=model)
t3 = time.perf_counter()
c = time.process_time()
res = gwas(ds, design, carrier_index=mode, packed_calls="auto" if mode == "use" else "off",
           compute=False).compute()
t4 = time.perf_counter()
scan_cpu = time.process_time() - c
table = _table(ds, res)
t5 = time.perf_counter()
with open(os.devnull, "w") as fh:
    fh.writelines(tsv_chunks(table))
t6 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "open_cohort": t2 - t1, "design": t3 - t2,
                  "scan": t4 - t3, "scan_cpu": scan_cpu, "variant_table": t5 - t4,
                  "tsv": t6 - t5}))
"""


def _breakdown(store: str, pheno: str, covar: str, name: str, mode: str,
               model: str) -> dict[str, float]:
    out = subprocess.run([PY, "-c", _BREAKDOWN, store, pheno, covar, name, mode, model],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> None:
    import shutil

    work = Path(args.work)
    sim = work / "sim"
    store = str(sim / "cohort.vcz")
    model = "logistic" if args.logistic else "linear"
    pl = ["plink2", "--pfile", str(work / "plink"), "--glm", "omit-ref", "hide-covar",
          "--pheno", str(work / "plink.pheno"), "--pheno-name", "cc" if args.logistic else "qt",
          "--covar", str(work / "plink.covar"), "--threads", "2", "--out",
          str(work / "plink_out")]
    base = [PY, "-c", CLI, "cohort", "gwas", store, "--pheno", str(sim / "pheno.tsv"),
            "--pheno-name", "cc" if args.logistic else "qt", "--covar", str(sim / "covar.tsv"),
            "--force", "--json"] + (["--logistic"] if args.logistic else [])
    configs = {
        "plink2 --glm (2 threads)": pl,
        "genoma threads (2)": [*base, "-o", str(work / "g_threads")],
        "genoma LocalCluster 1×1": [*base, "-o", str(work / "g_lc1"), "--scheduler", "local",
                                    "--workers", "1", "--memory-limit", args.memory],
        "genoma LocalCluster 2×1": [*base, "-o", str(work / "g_lc2"), "--scheduler", "local",
                                    "--workers", "2", "--memory-limit", args.memory],
    }
    envs: dict[str, dict[str, str]] = {}
    clusters = []
    for nw in ([int(x) for x in args.running_cluster.split(",")] if args.running_cluster else []):
        # scaling without start-up costs: a cluster already running (as on a shared
        # cluster), reached with --scheduler tcp://; started before the timings
        addr, procs = _start_cluster(nw, work)
        clusters.append(procs)
        configs[f"genoma running cluster {nw}×1"] = [*base, "-o", str(work / f"g_rc{nw}"),
                                                     "--scheduler", addr]
    if args.baseline:  # another genoma source tree (e.g. `git archive HEAD src | tar -x`)
        name = "genoma baseline threads (2)"
        configs[name] = [*base, "-o", str(work / "g_base"), "--carrier-index", "off"]
        envs[name] = {**os.environ, "PYTHONPATH": args.baseline}
    if args.only:
        configs = {k: v for k, v in configs.items() if any(o in k for o in args.only.split(","))}
    from genoma.io.carriers import ensure_carrier_index
    from genoma.io.packed import ensure_packed_calls
    from genoma.io.vcz import open_cohort

    t = time.perf_counter()
    ensure_carrier_index(open_cohort(store))  # built by prepare; rebuilt only if stale
    ensure_packed_calls(open_cohort(store))  # dense stores (prepare or `pack`)
    index_check_s = time.perf_counter() - t
    times: dict[str, list[float]] = {k: [] for k in configs}
    cpus: dict[str, list[float]] = {k: [] for k in configs}
    rss: dict[str, float] = {k: 0.0 for k in configs}
    loads = []
    parts: dict[str, list[dict[str, float]]] = {"use": [], "off": []}
    bargs = [store, str(sim / "pheno.tsv"), str(sim / "covar.tsv"),
             "cc" if args.logistic else "qt"]
    for rep in range(args.repeats):
        for name, cmd in configs.items():
            loads.append(os.getloadavg()[0])
            w, c, r = _timed(cmd, envs.get(name))
            times[name].append(w)
            cpus[name].append(c)
            rss[name] = max(rss[name], r)
            print(f"rep {rep + 1} {name}: {w:.1f} s wall, {c:.1f} s CPU, peak RSS {r:.0f} MiB, "
                  f"load {loads[-1]:.1f}", flush=True)
        modes = ["use"] + (["off"] if args.dense and rep == 0 else [])
        for mode in modes:
            loads.append(os.getloadavg()[0])
            parts[mode].append(_breakdown(*bargs, mode, model))
            print(f"rep {rep + 1} in-process ({mode}): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in parts[mode][-1].items()), flush=True)
    agree = _agreement(work, model)
    result = {"model": model, "repeats": args.repeats,
              "prepare": json.loads((work / "prepare.json").read_text()),
              "median_s": {k: round(statistics.median(v), 2) for k, v in times.items()},
              "all_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
              "median_cpu_s": {k: round(statistics.median(v), 2) for k, v in cpus.items()},
              "in_process_median_s": {
                  f"carrier_index={m}": {k: round(statistics.median(r[k] for r in v), 2)
                                         for k in v[0]}
                  for m, v in parts.items() if v},
              "index_check_s": round(index_check_s, 2),
              "peak_rss_mib": {k: round(v) for k, v in rss.items()},
              "load_avg_1min": {"min": min(loads), "median": statistics.median(loads),
                                "max": max(loads)},
              "cpus": os.cpu_count(), "agreement": agree}
    out = work / f"result_{model}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    for d in ("g_lc1", "g_lc2", "g_base", *(p.name for p in work.glob("g_rc*"))):
        shutil.rmtree(work / d, ignore_errors=True)
    for procs in clusters:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def _agreement(work: Path, model: str) -> dict:
    """genoma's ``gwas.tsv`` against plink2's report of the same model.

    Linear: plink2 prints 6 significant digits, so each value is compared at 6 digits and
    at full precision (within half a unit of plink2's 6th digit). Logistic: plink2 (a3.5)
    fits in single precision, so the figures are ``|Δβ| / se``, relative ``Δse`` and
    relative ``Δp``, with the Firth fallback and NA agreement.
    """
    name = "plink_out.qt.glm.linear" if model == "linear" else "plink_out.cc.glm.logistic*"
    pl_file = next(work.glob(name), None)
    gw = work / "g_threads" / "gwas.tsv"
    if pl_file is None or not gw.exists():
        return {}
    a = pd.read_csv(pl_file, sep="\t", dtype={"ERRCODE": str})
    b = pd.read_csv(gw, sep="\t", dtype={"error": str})
    b["ID"] = b.chrom + ":" + b.pos.astype(str) + ":" + np.arange(len(b)).astype(str)
    m = a.merge(b, on="ID")
    agree: dict = {"plink2_file": pl_file.name, "rows": len(m)}
    if model == "linear":
        for ours, theirs in (("beta", "BETA"), ("se", "SE"), ("p", "P")):
            y = pd.to_numeric(m[theirs], errors="coerce").to_numpy()
            x = np.array([float(f"{v:.6g}") for v in m[ours]])
            ok = np.isfinite(x) & np.isfinite(y) & (y != 0)
            full = m[ours].to_numpy(dtype=float)
            half_unit = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(y[ok]))) - 5)
            agree[ours] = {"compared": int(ok.sum()),
                           "max_rel_diff_at_6_digits": float(np.max(np.abs(x[ok] - y[ok])
                                                                    / np.abs(y[ok]))),
                           # full precision vs plink2's 6 printed digits
                           "max_rel_diff": float(np.max(np.abs(full[ok] - y[ok])
                                                        / np.abs(y[ok]))),
                           "within_half_unit_of_6th_digit": int(
                               (np.abs(full[ok] - y[ok]) <= half_unit * (1 + 1e-6)).sum())}
        agree["na_mismatch"] = int((pd.to_numeric(m["P"], errors="coerce").isna()
                                    != m["p"].isna()).sum())
        return agree
    or_ = pd.to_numeric(m["OR"], errors="coerce").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        pb = np.log(or_)
    ps = pd.to_numeric(m["LOG(OR)_SE"], errors="coerce").to_numpy()
    pp = pd.to_numeric(m["P"], errors="coerce").to_numpy()
    gb, gs, gp = (m[c].to_numpy(dtype=float) for c in ("beta", "se", "p"))
    both = np.isfinite(pb) & np.isfinite(gb) & np.isfinite(ps) & np.isfinite(gs)
    pl_firth = (m["FIRTH?"] == "Y").to_numpy()
    ours_firth = m["firth"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    for label, rows in (("ordinary fits", both & ~pl_firth & ~ours_firth),
                        ("firth fallback", both & pl_firth & ours_firth)):
        z = np.abs(gb[rows] - pb[rows]) / gs[rows]
        rel_se = np.abs(gs[rows] - ps[rows]) / ps[rows]
        okp = rows & (pp > 1e-300) & (gp > 0)
        rel_p = np.abs(gp[okp] - pp[okp]) / pp[okp]
        agree[label] = {"compared": int(rows.sum()),
                        "max_abs_dbeta_over_se": float(z.max()) if z.size else None,
                        "p99_abs_dbeta_over_se": float(np.quantile(z, 0.99)) if z.size else None,
                        "max_rel_dse": float(rel_se.max()) if z.size else None,
                        "max_rel_dp": float(rel_p.max()) if rel_p.size else None}
    agree["firth_same_variants"] = bool((pl_firth == ours_firth).all())
    agree["firth_variants"] = {"plink2": int(pl_firth.sum()), "genoma": int(ours_firth.sum())}
    agree["plink2_errcodes"] = {str(k): int(v) for k, v in m["ERRCODE"].value_counts().items()}
    agree["na_mismatch"] = int((~np.isfinite(pp) != ~np.isfinite(gp)).sum())
    return agree


def _start_cluster(n_workers: int, work: Path) -> tuple[str, list[subprocess.Popen]]:
    """A dask.distributed scheduler + ``n_workers`` single-threaded workers (own ports)."""
    import socket

    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    dask_cli = str(Path(PY).with_name("dask"))
    log = open(work / f"cluster{n_workers}.log", "w")  # open as long as the cluster runs
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port",
                               str(port), "--dashboard-address", ":0"], stdout=log, stderr=log)]
    procs += [subprocess.Popen([dask_cli, "worker", addr, "--nthreads", "1", "--nworkers", "1",
                                "--memory-limit", "4GB"], stdout=log, stderr=log)
              for _ in range(n_workers)]
    from distributed import Client

    with Client(addr, timeout="60s") as client:
        client.wait_for_workers(n_workers, timeout=120)
        # warm the workers: import genoma's scan modules (and load the Numba cache) once
        client.run(lambda: __import__("genoma.analyses.cohort.gwas"))
    return addr, procs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--work", required=True)
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--length", type=int, default=11_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--variants-chunk", type=int, default=None)
    p.add_argument("--min-maf", type=float, default=0.0,
                   help="keep only variants with MAF >= this (dense, common-variant data)")
    p.add_argument("--max-variants", type=int, default=None,
                   help="keep the first N passing variants (position order)")
    p.add_argument("--no-carrier-index", action="store_true",
                   help="do not build genoma's carrier index in the store")
    p.add_argument("--no-packed-calls", action="store_true",
                   help="do not build genoma's packed copy of the calls (dense stores)")
    k = sub.add_parser("pack", help="add the packed copy to an existing work directory")
    k.add_argument("--work", required=True)
    r = sub.add_parser("run")
    r.add_argument("--work", required=True)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--logistic", action="store_true")
    r.add_argument("--memory", default="4GB", help="LocalCluster memory per worker")
    r.add_argument("--only", default="", help="comma-separated config name fragments")
    r.add_argument("--baseline", default="",
                   help="src directory of another genoma version to time as well (dense scan, "
                        "--carrier-index off, so it never writes an index into the store)")
    r.add_argument("--running-cluster", default="",
                   help="comma-separated worker counts (e.g. 1,2): also time the CLI against "
                        "an already running dask.distributed cluster of that many "
                        "single-threaded workers (--scheduler tcp://)")
    r.add_argument("--dense", action="store_true",
                   help="also time the dense scan of call_genotype once (in-process)")
    args = ap.parse_args()
    {"prepare": prepare, "pack": pack, "run": run}[args.step](args)


if __name__ == "__main__":
    main()
