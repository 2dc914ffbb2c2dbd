"""``genoma cohort``: VCF Zarr import, QC, PCA, GWAS and simulation at cohort scale."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from genoma.cli._common import emit_json, handle_errors

app = typer.Typer(help="Cohort analytics on VCF Zarr stores (Dask; laptop to cluster).",
                  no_args_is_help=True)

_log = logging.getLogger("genoma.cohort")

_SCHEDULER = typer.Option("threads", "--scheduler",
                          help="threads (in process), local (LocalCluster) or tcp://HOST:PORT.")
_WORKERS = typer.Option(2, "--workers", help="LocalCluster worker processes (--scheduler local).")
_THREADS = typer.Option(1, "--threads-per-worker", help="Threads per LocalCluster worker.")
_MEMORY = typer.Option("auto", "--memory-limit", help="Memory per LocalCluster worker, e.g. 2GB.")


def _read_table(path: Path) -> Any:
    from genoma.io.vcz import read_sample_table

    return read_sample_table(path)


@contextlib.contextmanager
def _gc_paused() -> Iterator[Callable[[], None]]:
    """Pause the cyclic garbage collector; the yielded ``resume()`` freezes and restarts it.

    Importing the scan's dependencies (dask.array, numba, xarray, zarr, pandas) creates a
    few hundred thousand long-lived objects and no garbage; the collector's passes over
    them cost ≈ 0.1 s of CPU per ``cohort gwas`` run. Paused until ``resume()``, which
    then moves everything alive to the permanent generation (:func:`gc.freeze`: never
    traversed again) and re-enables collection for the scan, whose Dask tasks do make
    cyclic garbage (≈ 100 objects per task). On leaving, collection is back to how it
    was and the frozen objects are returned to the oldest generation.
    """
    enabled = gc.isenabled()
    gc.disable()
    resumed = False

    def resume() -> None:
        nonlocal resumed
        if not resumed:
            resumed = True
            gc.freeze()
            if enabled:
                gc.enable()

    try:
        yield resume
    finally:
        resume()
        gc.unfreeze()


def _manifest(command: str, out: Path, started: float, summary: dict[str, Any],
              inputs: list[Path], **params: Any) -> None:
    from genoma.io.output import write_json
    from genoma.provenance import InputFile, RunManifest

    m = RunManifest.start(command, **params)
    m.inputs = [InputFile.of(p.stem, p) for p in inputs]
    m.genome_build = summary.get("genome_build")
    m.outputs = sorted(p.name for p in out.iterdir())
    m.finish("ok")
    data = m.model_dump()
    data["summary"] = summary
    data["seconds"] = round(time.perf_counter() - started, 3)
    write_json(out / "manifest.json", data)


@app.command("import")
@handle_errors
def import_cmd(
    vcfs: list[Path] = typer.Argument(..., help="Bgzipped VCF/BCF files (same samples)."),
    out: Path = typer.Option(..., "--out", "-o", help="Store to create (STORE.vcz)."),
    build: str | None = typer.Option(None, "--build", help="GRCh37/GRCh38 (default: inferred)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing store."),
    processes: int = typer.Option(0, "--processes", "-p", help="bio2zarr worker processes."),
    variants_chunk: int | None = typer.Option(None, "--variants-chunk"),
    samples_chunk: int | None = typer.Option(None, "--samples-chunk"),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Convert VCF/BCF files into one VCF Zarr store (bio2zarr); interrupted runs restart."""
    from genoma.io.vcz import import_vcfs

    summary = import_vcfs(vcfs, out, build=build, force=force, worker_processes=processes,
                          variants_chunk_size=variants_chunk, samples_chunk_size=samples_chunk,
                          show_progress=not json_out)
    if json_out:
        emit_json(summary)
    else:
        typer.echo(f"{summary['store']}: {summary['samples']} samples × "
                   f"{summary['variants']} variants", err=True)


@app.command("gwas")
@handle_errors
def gwas_cmd(
    store: Path = typer.Argument(..., help="Cohort store (genoma cohort import)."),
    pheno: Path = typer.Option(..., "--pheno", help="TSV with a 'sample' column."),
    covar: Path | None = typer.Option(None, "--covar", help="TSV with a 'sample' column."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    logistic: bool = typer.Option(False, "--logistic", help="Binary trait (0/1 or 1/2)."),
    pheno_name: str | None = typer.Option(None, "--pheno-name", help="Phenotype column."),
    covar_names: str | None = typer.Option(None, "--covar-name", help="Comma-separated."),
    no_firth: bool = typer.Option(False, "--no-firth", help="No Firth fallback (logistic)."),
    plots: bool = typer.Option(
        False, "--plots",
        help="Also write manhattan.png, qq.png and interactive manhattan.html, qq.html."),
    variants_chunk: int | None = typer.Option(None, "--variants-chunk"),
    carrier_index: str = typer.Option(
        "auto", "--carrier-index",
        help="Sparse carrier index in the store: auto (build on first use when the store is "
             "writable), use (require it), off (dense scan)."),
    packed_calls: str = typer.Option(
        "auto", "--packed-calls",
        help="2-bit packed copy of the calls in the store, for dense (common-variant) stores: "
             "auto (build on first use when the store is writable and dense), use (read it "
             "when present), off (never)."),
    scheduler: str = _SCHEDULER,
    workers: int = _WORKERS,
    threads_per_worker: int = _THREADS,
    memory_limit: str = _MEMORY,
    force: bool = typer.Option(False, "--force"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Linear or logistic association of every variant (additive, with covariates)."""
    with _gc_paused() as resume_gc:
        from genoma.analyses.cohort.gwas import VERSION, gwas, make_design, tsv_chunks
        from genoma.errors import UsageError
        from genoma.io.output import check_output_dir, run_directory
        from genoma.io.vcz import open_cohort
        from genoma.scale.cluster import dask_context, describe_scheduler

        t0 = time.perf_counter()
        check_output_dir(out, force)
        with dask_context(scheduler, workers=workers, threads_per_worker=threads_per_worker,
                          memory_limit=memory_limit, progress=not json_out) as client:
            ds = open_cohort(store)
            design = make_design(ds["sample_id"].values, _read_table(pheno),
                                 _read_table(covar) if covar else None, pheno_column=pheno_name,
                                 covariate_columns=covar_names.split(",") if covar_names else None,
                                 model="logistic" if logistic else "linear")
            resume_gc()  # the scans below make cyclic garbage (Dask tasks): collect it
            for flag, value in (("--carrier-index", carrier_index),
                                ("--packed-calls", packed_calls)):
                if value not in ("auto", "use", "off"):
                    raise UsageError(f"{flag} must be auto, use or off (got {value!r})")
            if "auto" in (carrier_index, packed_calls):
                # the one step that writes into the store: open or build (once) the copy
                # the scan reads — carrier index (sparse) or packed calls (dense)
                from genoma.io.packed import ensure_scan_copy

                ensure_scan_copy(ds, carrier_index=carrier_index == "auto",
                                 packed_calls=packed_calls == "auto")
            table = gwas(ds, design, firth_fallback=not no_firth, variants_chunk=variants_chunk,
                         carrier_index=carrier_index,  # type: ignore[arg-type]
                         packed_calls=packed_calls)  # type: ignore[arg-type]
            sched = describe_scheduler(client)
        from genoma.analyses.cohort.plots import genomic_inflation

        summary = {"variants": len(table), "samples": len(design.y), "model": design.model,
                   "lambda_gc": round(genomic_inflation(table.p.to_numpy()), 4),
                   "covariates": design.covariate_names[1:],
                   "tested": int((table.error == "").sum()),
                   "min_p": float(table.p.min()) if table.p.notna().any() else None,
                   "genome_build": ds.attrs.get("genome_build"),
                   "genotype_source": table.attrs.get("genotype_source"), **sched}
        with run_directory(out, force=True) as tmp:
            with open(tmp / "gwas.tsv", "w", encoding="utf-8", newline="") as fh:
                fh.writelines(tsv_chunks(table, float_format=".10g", na_rep="NA"))
            if plots:
                _write_plots(table, tmp, str(ds.attrs.get("genome_build", "unknown")))
            _manifest("cohort gwas", tmp, t0, summary, [pheno] + ([covar] if covar else []),
                      store=str(store), analysis_version=VERSION)
        if json_out:
            emit_json(summary)


def _write_plots(table: Any, out: Path, build: str) -> None:
    """manhattan/qq as PNG (matplotlib) and self-contained interactive HTML (Bokeh)."""
    from genoma.analyses.cohort.plots import (
        manhattan_figure,
        manhattan_html,
        qq_figure,
        qq_html,
    )
    from genoma.errors import GenomaError
    from genoma.io.output import atomic_write_text

    manhattan_figure(table).savefig(out / "manhattan.png", dpi=120)
    qq_figure(table).savefig(out / "qq.png", dpi=120)
    genes = None
    try:
        from genoma.kb.genes import gene_table

        genes = gene_table(build)
    except GenomaError as exc:  # no gene knowledge for this build: hover without genes
        _log.warning("no nearest genes in the plots: %s", exc)
    atomic_write_text(out / "manhattan.html", manhattan_html(table, genes=genes))
    atomic_write_text(out / "qq.html", qq_html(table, genes=genes))


@app.command("pca")
@handle_errors
def pca_cmd(
    store: Path = typer.Argument(..., help="Cohort store."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    n_components: int = typer.Option(10, "--pcs", "-k", help="Number of components."),
    min_maf: float = typer.Option(0.01, "--maf"),
    ld_window: int = typer.Option(50, "--ld-window"),
    ld_r2: float = typer.Option(0.2, "--ld-r2"),
    seed: int = typer.Option(0, "--seed"),
    force: bool = typer.Option(False, "--force"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Principal components with MAF filter and LD pruning; writes OUT/pcs.tsv."""
    from genoma.analyses.cohort.pca import VERSION, pca
    from genoma.io.output import check_output_dir, run_directory
    from genoma.io.vcz import open_cohort

    t0 = time.perf_counter()
    check_output_dir(out, force)
    ds = open_cohort(store)
    res = pca(ds, n_components=n_components, min_maf=min_maf, ld_window=ld_window,
              ld_r2=ld_r2, seed=seed)
    summary = {"samples": len(res.scores), "variants_in": res.variants_in,
               "variants_used": res.variants_used,
               "eigenvalues": [round(float(x), 6) for x in res.eigenvalues],
               "genome_build": ds.attrs.get("genome_build")}
    with run_directory(out, force=True) as tmp:
        res.scores.to_csv(tmp / "pcs.tsv", sep="\t", index=False, float_format="%.8g")
        _manifest("cohort pca", tmp, t0, summary, [], store=str(store),
                  analysis_version=VERSION)
    if json_out:
        emit_json(summary)


@app.command("qc")
@handle_errors
def qc_cmd(
    store: Path = typer.Argument(..., help="Cohort store."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    sex: Path | None = typer.Option(
        None, "--sex", help="TSV with 'sample' and a sex column (1/2/0, M/F): sex check."),
    sex_column: str = typer.Option("sex", "--sex-column", help="Sex column of --sex."),
    female_max_f: float = typer.Option(0.2, "--female-max-f", help="F below: female (plink)."),
    male_min_f: float = typer.Option(0.8, "--male-min-f", help="F above: male (plink)."),
    force: bool = typer.Option(False, "--force"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Sample and variant QC (call rate, heterozygosity, HWE, sex check).

    Writes samples.tsv, variants.tsv and, when the store has chrX variants outside the
    pseudo-autosomal regions, sexcheck.tsv (plink 1.9 --check-sex).
    """
    from genoma.analyses.cohort.qc import (
        VERSION,
        parse_sex,
        sample_qc,
        sex_check,
        variant_qc,
        x_nonpar_mask,
    )
    from genoma.errors import InconsistentInputError, MalformedInputError
    from genoma.io.output import check_output_dir, run_directory
    from genoma.io.vcz import open_cohort

    t0 = time.perf_counter()
    check_output_dir(out, force)
    ds = open_cohort(store)
    reported = None
    if sex is not None:
        table = _read_table(sex)
        if sex_column not in table.columns:
            raise MalformedInputError(f"no {sex_column!r} column in the header", path=sex,
                                      line=1)
        codes = parse_sex(table[sex_column].tolist(), path=str(sex))
        reported = dict(zip(table["sample"], codes, strict=True))
    s, v = sample_qc(ds), variant_qc(ds)
    summary: dict[str, Any] = {
        "samples": len(s), "variants": len(v),
        "samples_f_miss_gt_0.05": int((s.f_miss > 0.05).sum()),
        "variants_p_hwe_lt_1e-6": int((v.p_hwe < 1e-6).sum()),
        "genome_build": ds.attrs.get("genome_build")}
    sc = None
    if x_nonpar_mask(ds).any():
        try:
            sc = sex_check(ds, reported, female_max_f=female_max_f, male_min_f=male_min_f)
        except InconsistentInputError as exc:  # only monomorphic X variants
            if sex is not None:
                raise
            summary["sexcheck"] = f"skipped: {exc.problem}"
    elif sex is not None:
        raise InconsistentInputError("--sex given but the store has no chrX variants outside "
                                     "the pseudo-autosomal regions", path=store)
    else:
        summary["sexcheck"] = "skipped: no chrX variants"
    if sc is not None:
        summary["sexcheck_x_variants"] = int(sc.attrs["x_variants"])
        summary["sexcheck_problems"] = int((sc.status == "PROBLEM").sum())
        if reported is not None:
            summary["sexcheck_mismatches"] = int(((sc.pedsex != 0) & (sc.snpsex != 0)
                                                  & (sc.pedsex != sc.snpsex)).sum())
    with run_directory(out, force=True) as tmp:
        s.to_csv(tmp / "samples.tsv", sep="\t", index=False, float_format="%.10g")
        v.to_csv(tmp / "variants.tsv", sep="\t", index=False, na_rep="NA", float_format="%.10g")
        if sc is not None:
            sc.to_csv(tmp / "sexcheck.tsv", sep="\t", index=False, na_rep="NA",
                      float_format="%.10g")
        _manifest("cohort qc", tmp, t0, summary, [sex] if sex else [], store=str(store),
                  female_max_f=female_max_f, male_min_f=male_min_f, analysis_version=VERSION)
    if json_out:
        emit_json(summary)


@app.command("relatedness")
@handle_errors
def relatedness_cmd(
    store: Path = typer.Argument(..., help="Cohort store."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    method: str = typer.Option("king", "--method",
                               help="king (KING-robust, OUT/king.tsv) or pc-relate "
                                    "(sgkit PC-Relate, OUT/pcrelate.tsv)."),
    pcs: Path | None = typer.Option(None, "--pcs", help="pc-relate: pcs.tsv of genoma cohort "
                                                        "pca (default: computed)."),
    n_pcs: int = typer.Option(3, "--n-pcs", help="pc-relate: principal components used."),
    min_kinship: float = typer.Option(0.0442, "--min-kinship",
                                      help="Report pairs at or above (3rd degree: 0.0442)."),
    all_pairs: bool = typer.Option(False, "--all-pairs", help="Report every pair."),
    force: bool = typer.Option(False, "--force"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Kinship of sample pairs: KING-robust (as plink2 --make-king-table) or PC-Relate."""
    from genoma.analyses.cohort.relatedness import VERSION, king_robust, pc_relate
    from genoma.errors import UsageError
    from genoma.io.output import check_output_dir, run_directory
    from genoma.io.vcz import open_cohort

    t0 = time.perf_counter()
    if method not in ("king", "pc-relate"):
        raise UsageError(f"--method must be king or pc-relate, not {method!r}")
    check_output_dir(out, force)
    ds = open_cohort(store)
    cutoff = None if all_pairs else min_kinship
    if method == "king":
        table = king_robust(ds, min_kinship=cutoff)
        name = "king.tsv"
    else:
        table = pc_relate(ds, _read_table(pcs) if pcs else None, n_pcs=n_pcs,
                          min_kinship=cutoff)
        name = "pcrelate.tsv"
    summary = {"method": method, "pairs_reported": len(table),
               "samples": int(ds.sizes["samples"]),
               "duplicates_or_twins": int((table.kinship > 0.354).sum()),
               "first_degree": int(((table.kinship > 0.177) & (table.kinship <= 0.354)).sum()),
               "genome_build": ds.attrs.get("genome_build")}
    with run_directory(out, force=True) as tmp:
        table.to_csv(tmp / name, sep="\t", index=False, float_format="%.6g")
        _manifest("cohort relatedness", tmp, t0, summary, [pcs] if pcs else [],
                  store=str(store), method=method, n_pcs=n_pcs, analysis_version=VERSION)
    if json_out:
        emit_json(summary)


@app.command("simulate")
@handle_errors
def simulate_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (cohort.vcz + TSVs)."),
    samples: int = typer.Option(1000, "--samples", "-n", help="Diploid individuals."),
    length: int = typer.Option(5_000_000, "--length", "-L", help="Sequence length (bp)."),
    seed: int = typer.Option(1, "--seed"),
    n_causal: int = typer.Option(100, "--causal"),
    h2: float = typer.Option(0.3, "--h2"),
    prevalence: float = typer.Option(0.2, "--prevalence"),
    variants_chunk: int | None = typer.Option(None, "--variants-chunk"),
    samples_chunk: int | None = typer.Option(None, "--samples-chunk"),
    processes: int = typer.Option(0, "--processes", "-p"),
    min_maf: float = typer.Option(
        0.0, "--min-maf",
        help="Keep only variants with minor allele frequency >= MIN_MAF (e.g. 0.01 for a "
             "dense, common-variant cohort); filtered before anything is written."),
    max_variants: int | None = typer.Option(
        None, "--max-variants", help="Keep at most N variants (the first passing ones by "
                                     "position)."),
    force: bool = typer.Option(False, "--force"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Simulate a YRI/CEU/CHB cohort (msprime OutOfAfrica_3G09) straight to Zarr.

    By default every simulated site is kept (mostly rare variants); --min-maf and
    --max-variants drop sites from the tree sequence before the store is written.
    """
    from genoma.io.output import check_output_dir, run_directory
    from genoma.sim.cohort import simulate_cohort

    t0 = time.perf_counter()
    check_output_dir(out, force)
    with run_directory(out, force=True) as tmp:
        res = simulate_cohort(tmp / "cohort.vcz", samples, length, seed=seed,
                              n_causal=n_causal, h2=h2, prevalence=prevalence,
                              variants_chunk_size=variants_chunk,
                              samples_chunk_size=samples_chunk, worker_processes=processes,
                              show_progress=not json_out, min_maf=min_maf,
                              max_variants=max_variants)
        res.samples.to_csv(tmp / "samples.tsv", sep="\t", index=False)
        res.pheno.to_csv(tmp / "pheno.tsv", sep="\t", index=False, float_format="%.8g")
        res.covar.to_csv(tmp / "covar.tsv", sep="\t", index=False)
        res.causal.to_csv(tmp / "causal.tsv", sep="\t", index=False)
        summary = {"samples": samples, "variants": res.n_variants, "length": length,
                   "seed": seed, "min_maf": min_maf, "max_variants": max_variants,
                   "store": str(Path(out) / "cohort.vcz")}
        _manifest("cohort simulate", tmp, t0, summary, [], samples=samples, length=length,
                  seed=seed, min_maf=min_maf, max_variants=max_variants)
    if json_out:
        emit_json(summary)


@app.command("regions")
@handle_errors
def regions_cmd(
    store: Path = typer.Argument(..., help="Cohort store (genotypes for LD)."),
    gwas_tsv: Path = typer.Option(..., "--gwas", help="gwas.tsv (chrom, pos, p[, id, ref, alt])."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    p1: float = typer.Option(5e-8, "--p1", help="Index variant p threshold."),
    p2: float = typer.Option(1e-2, "--p2", help="Clump member p threshold."),
    r2: float = typer.Option(0.1, "--r2", help="r² with the index to join its clump."),
    kb: float = typer.Option(250, "--kb", help="Clump window (kb)."),
    flank_kb: float = typer.Option(50, "--flank-kb", help="Region flank around a clump (kb)."),
    force: bool = typer.Option(False, "--force"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """LD clumping into independent loci, ranked regions with nearest genes: regions.tsv."""
    import pandas as pd

    from genoma.analyses.cohort.clump import VERSION, clump, regions_of_interest
    from genoma.errors import InputMissingError, MalformedInputError
    from genoma.io.output import check_output_dir, run_directory
    from genoma.io.vcz import open_cohort

    t0 = time.perf_counter()
    check_output_dir(out, force)
    if not gwas_tsv.is_file():
        raise InputMissingError("association table not found", path=gwas_tsv)
    try:
        table = pd.read_csv(gwas_tsv, sep="\t", na_values=["NA"], keep_default_na=False,
                            dtype={"chrom": str, "id": str, "ref": str, "alt": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise MalformedInputError(f"cannot read association table: {exc}",
                                  path=gwas_tsv) from exc
    table = table.rename(columns={"#CHROM": "chrom", "POS": "pos", "ID": "id", "P": "p"})
    ds = open_cohort(store)
    build = str(ds.attrs.get("genome_build", "unknown"))
    clumps = clump(ds, table, p1=p1, p2=p2, r2=r2, kb_window=kb)
    regions = regions_of_interest(clumps, build, flank_kb=flank_kb)
    summary = {"regions": len(regions), "clumped_variants": len(clumps),
               "min_p": float(regions.lead_p.min()) if len(regions) else None,
               "genome_build": build}
    with run_directory(out, force=True) as tmp:
        regions.to_csv(tmp / "regions.tsv", sep="\t", index=False, float_format="%.6g")
        clumps.to_csv(tmp / "clumps.tsv", sep="\t", index=False, float_format="%.6g")
        _manifest("cohort regions", tmp, t0, summary, [gwas_tsv], store=str(store), p1=p1,
                  p2=p2, r2=r2, kb=kb, flank_kb=flank_kb, analysis_version=VERSION)
    if json_out:
        emit_json(summary)
