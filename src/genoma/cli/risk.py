"""``genoma risk score``: polygenic scores with match report, ancestry and absolute risk.

Thin: the logic is in :mod:`genoma.analyses.risk` and :mod:`genoma.analyses.ancestry`::

    genoma risk score TARGET --pgs FILE [FILE…] -o OUT [--min-overlap 0.75]
        [--reference 1kg-peddy|none|REF.vcf.gz --reference-labels TSV]
        [--pce age=55,sex=female,tc=213,hdl=50,sbp=120 --hr-per-sd 1.5]

``TARGET`` is a VCF/BCF, a PLINK 1 fileset (``prefix`` or ``prefix.bed``) or a VCF Zarr store. Several
scoring files may follow one ``--pgs`` or repeat it. Output directory:

* ``scores.tsv`` — one row per sample × score (sum, avg, n_matched, n_variants, z_norm1,
  z_norm2, percentile, most_similar_population, …);
* ``match_report.tsv`` — per score: counts by status, match type and exclusion reason;
  ``match_variants.tsv.gz`` — per score variant: match type, target site, status, reason;
* ``scoring_files.json`` — each score's header metadata with its license line;
* ``ancestry.tsv`` — PCs, most similar population and probabilities (with a reference);
* ``absolute_risk.tsv`` (with ``--pce`` or ``--baseline-incidence``);
* ``findings.json`` (``polygenic_score`` findings, up to 20 samples);
* ``manifest.json``, ``run.log``.

When a score's overlap is below ``--min-overlap`` the match report and manifest are
still written and the command exits 5.

Training (:mod:`genoma.analyses.risk.train`)::

    genoma risk train STORE --pheno FILE [--covar FILE] --method ct|lasso
        [--train-samples FILE] [--pcs N] -o OUT

writes ``score.txt`` (PGS Catalog format, read back by ``genoma risk score``),
``train_report.json`` (method, parameters, n per ancestry, held-out R²/AUC and
calibration per ancestry), ``evaluation.tsv``, ``tuning.tsv``, ``sample_scores.tsv``,
``manifest.json`` and ``run.log``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer

from genoma.cli._common import console, emit_json, handle_errors, samples_option

__all__ = ["app"]

_log = logging.getLogger("genoma.risk")
_FINDINGS_MAX_SAMPLES = 20

app = typer.Typer(help="Disease risk: polygenic scores, ancestry, absolute risk.",
                  no_args_is_help=True)


@app.callback()
def _risk() -> None:
    """Disease risk: `genoma risk score TARGET --pgs FILE -o OUT`, `genoma risk train`."""


def _parse_pce(text: str) -> Any:
    from genoma.analyses.risk.absolute import PceInputs
    from genoma.errors import UsageError

    keys = {"age": "age", "sex": "sex", "tc": "total_cholesterol",
            "total_cholesterol": "total_cholesterol", "hdl": "hdl", "sbp": "systolic_bp",
            "systolic_bp": "systolic_bp", "treated": "bp_treated", "bp_treated": "bp_treated",
            "smoker": "smoker", "diabetes": "diabetes", "race": "race"}
    vals: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise UsageError(f"--pce expects key=value pairs, got {part!r}")
        k, v = (x.strip() for x in part.split("=", 1))
        if k not in keys:
            raise UsageError(f"--pce: unknown key {k!r} (known: {', '.join(sorted(keys))})")
        name = keys[k]
        if name in ("bp_treated", "smoker", "diabetes"):
            vals[name] = v.lower() in ("1", "true", "yes", "y")
        elif name in ("sex", "race"):
            vals[name] = v
        else:
            try:
                vals[name] = float(v)
            except ValueError:
                raise UsageError(f"--pce: {k} must be a number, got {v!r}") from None
    missing = {"age", "sex", "total_cholesterol", "hdl", "systolic_bp"} - set(vals)
    if missing:
        raise UsageError(f"--pce is missing {', '.join(sorted(missing))}")
    return PceInputs(**vals)


def _load_reference(spec: str, labels: Path | None, build: str | None) -> Any:
    """``1kg-peddy`` (embedded), ``none``, or a reference VCF / PLINK / VCF Zarr with a labels TSV."""
    import numpy as np

    from genoma.analyses.ancestry.assign import ReferenceGenotypes
    from genoma.errors import InputMissingError, MalformedInputError, UsageError
    from genoma.io.pgs import load_target

    if spec.lower() == "none":
        return None
    if spec == "1kg-peddy":
        from genoma.kb import refpanel

        return ReferenceGenotypes.from_panel(refpanel.load(build or "GRCh38"))
    if labels is None:
        raise UsageError("--reference FILE needs --reference-labels (sample<TAB>population)")
    if not labels.is_file():
        raise InputMissingError("reference labels not found", path=labels)
    lab: dict[str, str] = {}
    for n, line in enumerate(labels.read_text().splitlines(), start=1):
        f = line.rstrip("\n").split("\t")
        if not line.strip() or line.startswith("#") or (n == 1 and len(f) > 1 and
                                                        f[1].lower() in ("population",
                                                                         "superpop", "pop")):
            continue
        if len(f) < 2:
            raise MalformedInputError("expected sample<TAB>population", path=labels, line=n)
        lab[f[0]] = f[1]
    t = load_target(spec, build=build)
    keep = [s for s in t.samples if s in lab]
    if len(keep) < 50:
        raise MalformedInputError(
            f"only {len(keep)} reference samples have a population label (50 needed)",
            path=labels)
    idx = np.array([t.samples.index(s) for s in keep])
    gi = np.empty((t.n_sites, len(idx)), dtype=np.int8)  # 1 byte per genotype
    step = max(1, (8 << 20) // max(t.n_samples, 1))
    for a in range(0, t.n_sites, step):
        g = t.read_dosage(np.arange(a, min(a + step, t.n_sites)))[:, idx]
        gi[a:a + step] = np.where(np.isnan(g), -1, np.rint(g)).astype(np.int8)
    return ReferenceGenotypes(name=str(spec), build=t.build, chrom=t.chrom, pos=t.pos,
                              ref=t.ref, alt=t.alt, genotypes=gi, samples=np.array(keep),
                              populations=np.array([lab[s] for s in keep]))


@app.command("score")
@handle_errors
def score(
    inputs: list[Path] = typer.Argument(
        ..., help="TARGET (VCF/BCF, PLINK prefix/.bed or VCF Zarr store), then optionally more scoring "
        "files (so that `--pgs A B` works)."),
    pgs: list[Path] = typer.Option(..., "--pgs", help="PGS Catalog or custom scoring file "
                                   "(repeat, or list several after one --pgs)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    target_build: str | None = typer.Option(
        None, "--target-build", help="Genome build of the target when its header cannot "
        "tell (GRCh37/GRCh38); otherwise inferred from the embedded 1000 Genomes sites."),
    min_overlap: float = typer.Option(0.75, "--min-overlap", min=0.0, max=1.0,
                                      help="Minimum fraction of score variants matched."),
    keep_ambiguous: bool = typer.Option(False, "--keep-ambiguous",
                                        help="Keep strand-ambiguous (palindromic) SNPs."),
    keep_multiallelic: bool = typer.Option(False, "--keep-multiallelic",
                                           help="Keep matches to multi-allelic sites."),
    ignore_strand_flips: bool = typer.Option(False, "--ignore-strand-flips",
                                             help="Reject matches on the opposite strand."),
    imputation: str = typer.Option("auto", "--imputation",
                                   help="Missing genotypes: auto (mean from 50 samples up, "
                                   "as pgsc_calc), mean, none."),
    reference: str = typer.Option("1kg-peddy", "--reference",
                                  help="Ancestry reference: 1kg-peddy (embedded), none, or "
                                  "a VCF/PLINK reference with --reference-labels."),
    reference_labels: Path | None = typer.Option(
        None, "--reference-labels", help="TSV sample<TAB>population for --reference FILE."),
    dosage_field: str | None = typer.Option(
        None, "--dosage-field", help="Use VCF FORMAT/DS dosages (DS) instead of hard calls "
        "where present."),
    samples: str | None = typer.Option(None, "-s", help="Comma-separated samples."),
    samples_file: Path | None = typer.Option(None, "-S", help="File of samples."),
    pce: str | None = typer.Option(
        None, "--pce", help="Pooled cohort equations inputs: age=,sex=,tc=,hdl=,sbp=,"
        "treated=,smoker=,diabetes=,race= (mg/dL, mmHg)."),
    baseline_incidence: float | None = typer.Option(
        None, "--baseline-incidence", help="Baseline cumulative incidence (0–1) instead "
        "of the PCE."),
    horizon: float = typer.Option(10.0, "--horizon", help="Years of --baseline-incidence."),
    hr_per_sd: float | None = typer.Option(None, "--hr-per-sd",
                                           help="Hazard ratio per SD of the score."),
    absolute_pgs: str | None = typer.Option(None, "--absolute-pgs",
                                            help="Score used for absolute risk (first)."),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Score TARGET with PGS Catalog scoring files; match report, ancestry, percentiles."""

    from genoma.analyses.risk.matching import MatchPolicy
    from genoma.analyses.risk.run import ANALYSIS_VERSION, match_all
    from genoma.analyses.risk.targetbuild import infer_target_build
    from genoma.errors import GenomaError, UsageError
    from genoma.io.output import check_output_dir, run_directory, run_log
    from genoma.io.pgs import load_target, normalise_build, read_scoring_file
    from genoma.provenance import RunManifest

    target_path, *more = inputs
    files = [*pgs, *more]
    check_output_dir(out, force)
    if imputation not in ("auto", "mean", "none"):
        raise UsageError("--imputation must be auto, mean or none")
    if pce and baseline_incidence is not None:
        raise UsageError("give either --pce or --baseline-incidence, not both")
    try:
        tb = normalise_build(target_build) if target_build else None
    except ValueError as exc:
        raise UsageError(f"--target-build: {exc}") from None
    pce_inputs = _parse_pce(pce) if pce else None
    sample_list = samples_option(samples, samples_file)
    manifest = RunManifest.start(
        command="genoma risk score", target=str(target_path), pgs=[str(f) for f in files],
        min_overlap=min_overlap, keep_ambiguous=keep_ambiguous,
        keep_multiallelic=keep_multiallelic, ignore_strand_flips=ignore_strand_flips,
        imputation=imputation, reference=reference, target_build=target_build,
        dosage_field=dosage_field)
    manifest.analyses["risk"] = ANALYSIS_VERSION
    scores = [read_scoring_file(f) for f in files]
    if dosage_field not in (None, "DS"):
        raise UsageError("--dosage-field: only DS is supported")
    target = load_target(target_path, samples=sample_list, build=tb, dosage_field=dosage_field)
    notes: list[str] = []
    if target.build is None:
        guess = infer_target_build(target)
        if guess is not None:
            target.build = guess
            notes.append(f"target build inferred as {guess} from the embedded 1000 "
                         "Genomes site positions and alleles")
        else:
            known = {s.build for s in scores if s.build}
            if len(known) == 1:
                target.build = known.pop()
                notes.append(f"target build unknown: assumed {target.build}, the scoring "
                             "files' build (pass --target-build to state it)")
    manifest.genome_build = target.build
    policy = MatchPolicy(keep_ambiguous=keep_ambiguous, keep_multiallelic=keep_multiallelic,
                         ignore_strand_flips=ignore_strand_flips, min_overlap=min_overlap)
    matches = match_all(target, scores, policy)
    failure: GenomaError | None = None
    summary: dict[str, Any] = {}
    with run_directory(out, force=force) as tmp:
        with run_log(tmp):
            failure, summary = _run(tmp, manifest, target, scores, matches, notes, reference,
                                    reference_labels, imputation, pce_inputs,
                                    baseline_incidence, horizon, hr_per_sd, absolute_pgs)
    if failure is not None:
        console.print(f"match report written to {out}/match_report.tsv", highlight=False)
        raise failure
    if json_out:
        emit_json({"out": str(out), **summary})
    else:
        console.print(f"scores written to {out}/scores.tsv", highlight=False)


def _run(tmp: Path, manifest: Any, target: Any, scores: list[Any], matches: list[Any],
         notes: list[str], reference: str, reference_labels: Path | None, imputation: str,
         pce_inputs: Any, baseline_incidence: float | None, horizon: float,
         hr_per_sd: float | None, absolute_pgs: str | None) -> tuple[Any, dict[str, Any]]:
    """Write every output into ``tmp``; returns (overlap failure or None, summary)."""
    import numpy as np
    import pandas as pd

    from genoma.analyses.risk.absolute import absolute_risk, pooled_cohort_risk
    from genoma.analyses.risk.findings import absolute_risk_finding, risk_findings
    from genoma.analyses.risk.matching import check_overlap, match_report
    from genoma.analyses.risk.run import score_target
    from genoma.errors import GenomaError, UsageError
    from genoma.io.output import write_json
    from genoma.provenance import InputFile, KnowledgeVersion

    failure: GenomaError | None = None
    summary: dict[str, Any] = {}
    for n in notes:
        _log.warning(n)
    report = match_report(matches)
    report.to_csv(tmp / "match_report.tsv", sep="\t", index=False)

    log_cols = ["pgs_id", "line", "chrom", "pos", "effect_allele", "other_allele",
                "match_type", "target_site", "status", "reason"]
    pd.concat([m.log_frame(target)[log_cols] for m in matches]).to_csv(
        tmp / "match_variants.tsv.gz", sep="\t", index=False,
        compression={"method": "gzip", "compresslevel": 1})
    write_json(tmp / "scoring_files.json", [s.metadata() for s in scores])
    manifest.inputs.append(InputFile.of("target", target.path))
    for s in scores:
        manifest.inputs.append(InputFile.of("scoring_file", s.path))
        manifest.add_knowledge(KnowledgeVersion(
            name=s.pgs_id, version=s.header.get("format_version", "custom"),
            license=s.license, source=str(s.path)))
    outputs = ["match_report.tsv", "match_variants.tsv.gz", "scoring_files.json"]
    try:
        check_overlap(matches)
    except GenomaError as err:
        failure = err
    if failure is None:
        ref = _load_reference(reference, reference_labels, target.build)
        if ref is not None:
            from genoma.kb.base import get_source

            if reference == "1kg-peddy":
                src = get_source("1kg-peddy")
                manifest.add_knowledge(KnowledgeVersion(
                    name=src.name, version=src.version, license=src.license,
                    source=src.source))
        run = score_target(target, matches, imputation=imputation, reference=ref)
        run.table.to_csv(tmp / "scores.tsv", sep="\t", index=False, na_rep="NA")
        outputs.append("scores.tsv")
        if run.ancestry is not None:
            anc = run.ancestry
            cols = {"sample": run.result.samples}
            for k in range(anc.target_pcs.shape[1]):
                cols[f"PC{k + 1}"] = anc.target_pcs[:, k]
            cols["most_similar_population"] = anc.assignment.labels
            for c, p in zip(anc.assignment.classes, anc.assignment.probabilities.T,
                            strict=True):
                cols[f"P_{c}"] = p
            cols["low_confidence"] = anc.assignment.low_confidence
            pd.DataFrame(cols).to_csv(tmp / "ancestry.tsv", sep="\t", index=False,
                                      float_format="%.6g")
            outputs.append("ancestry.tsv")
        findings: list[Any] = []
        if run.result.samples and len(run.result.samples) <= _FINDINGS_MAX_SAMPLES:
            for s in run.result.samples:
                findings.extend(risk_findings(run, s))
        if pce_inputs is not None or baseline_incidence is not None:
            pid = absolute_pgs or matches[0].score.pgs_id
            if pid not in [m.score.pgs_id for m in matches]:
                raise UsageError(f"--absolute-pgs {pid!r} is not one of the scores")
            rows = []
            for s in run.result.samples:
                r = run.table[(run.table["sample"] == s) & (run.table["pgs_id"] == pid)]
                z = r["z_norm2"].iloc[0]
                z = None if not np.isfinite(z) else float(z)
                if pce_inputs is not None:
                    ar = pooled_cohort_risk(pce_inputs, z=z, hr_per_sd=hr_per_sd)
                else:
                    ar = absolute_risk(float(baseline_incidence or 0), horizon, z=z,
                                       hr_per_sd=hr_per_sd)
                if z is None and hr_per_sd is not None:
                    ar.limitations.append("No ancestry-adjusted Z for this score: the "
                                          "risk is the clinical model's alone.")
                rows.append({"sample": s, "pgs_id": pid, "model": ar.model,
                             "horizon_years": ar.horizon_years,
                             "baseline_risk": ar.baseline_risk, "z_norm2": z,
                             "hr_per_sd": hr_per_sd,
                             "relative_hazard": ar.relative_hazard, "risk": ar.risk,
                             "inputs": json.dumps(ar.inputs, default=str),
                             "limitations": " | ".join(ar.limitations)})
                if len(run.result.samples) <= _FINDINGS_MAX_SAMPLES:
                    findings.append(absolute_risk_finding(ar, s, pid))
            pd.DataFrame(rows).to_csv(tmp / "absolute_risk.tsv", sep="\t", index=False)
            outputs.append("absolute_risk.tsv")
        if findings:
            write_json(tmp / "findings.json",
                       [f.model_dump(mode="json") for f in findings])
            outputs.append("findings.json")
        summary = {"n_samples": len(run.result.samples),
                   "scores": report.to_dict(orient="records"),
                   "limitations": run.limitations + notes}
        for lim in run.limitations:
            _log.warning(lim)
    manifest.outputs = [*outputs, "manifest.json", "run.log"]
    manifest.finish("failed" if failure is not None else "ok")
    if failure is not None:
        manifest.parameters["error"] = failure.to_dict()
    write_json(tmp / "manifest.json", manifest.model_dump(mode="json"))
    return failure, summary


def _read_populations(path: Path, ids: Any) -> Any:
    """``sample<TAB>population`` (header optional) aligned to the cohort's samples."""
    import numpy as np

    from genoma.errors import InconsistentInputError, InputMissingError, MalformedInputError

    if not path.is_file():
        raise InputMissingError("populations file not found", path=path)
    lab: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) < 2:
            raise MalformedInputError("expected sample<TAB>population", path=path, line=n)
        if n == 1 and f[0] == "sample":
            continue
        lab[f[0].strip()] = f[1].strip()
    missing = [s for s in ids if s not in lab]
    if missing:
        raise InconsistentInputError(
            f"{len(missing)} cohort sample(s) have no population label, e.g. {missing[0]}",
            path=path)
    return np.array([lab[s] for s in ids], dtype=object)


@app.command("train")
@handle_errors
def train(
    store: Path = typer.Argument(..., help="Cohort VCF Zarr store (genoma cohort import / "
                                 "simulate)."),
    pheno: Path = typer.Option(..., "--pheno", help="Phenotype TSV with a `sample` column."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    covar: Path | None = typer.Option(None, "--covar", help="Covariate TSV (`sample` + "
                                      "numeric columns)."),
    method: str = typer.Option("ct", "--method", help="ct (clumping + thresholding) or "
                               "lasso (penalised regression)."),
    pheno_column: str | None = typer.Option(None, "--pheno-column",
                                            help="Phenotype column (default: first)."),
    trait: str = typer.Option("auto", "--trait", help="auto, quantitative or binary."),
    train_samples: Path | None = typer.Option(
        None, "--train-samples", help="File of training samples (one per line); all other "
        "phenotyped samples are held out. Default: random, stratified split."),
    populations: Path | None = typer.Option(
        None, "--populations", help="TSV sample<TAB>ancestry for the per-ancestry metrics "
        "(default: the store's sample_population)."),
    n_pcs: int = typer.Option(0, "--pcs", min=0, help="PCs of the training samples added "
                              "as covariates (use with multi-ancestry training)."),
    test_fraction: float = typer.Option(0.3, "--test-fraction",
                                        help="Held-out share without --train-samples."),
    validation_fraction: float = typer.Option(0.2, "--validation-fraction",
                                              help="Validation share of the training pool."),
    clump_r2: float = typer.Option(0.1, "--clump-r2", help="ct: clumping r²."),
    clump_kb: float = typer.Option(250.0, "--clump-kb", help="ct: clumping window (kb)."),
    screen_p: float = typer.Option(0.05, "--screen-p", help="lasso: pre-screen p."),
    max_variants: int = typer.Option(20000, "--max-variants",
                                     help="lasso: at most this many screened variants."),
    l1_ratio: float = typer.Option(1.0, "--l1-ratio", help="lasso: elastic-net mixing."),
    min_maf: float = typer.Option(0.01, "--min-maf", help="Minimum training MAF."),
    keep_ambiguous: bool = typer.Option(False, "--keep-ambiguous",
                                        help="Keep strand-ambiguous (A/T, C/G) SNPs."),
    pgs_id: str | None = typer.Option(None, "--pgs-id", help="#pgs_id of the scoring file."),
    license_text: str = typer.Option(
        "Trained with genoma on the user's cohort; use subject to that cohort's data-use "
        "terms", "--license", help="#license line of the scoring file."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample split."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Train a polygenic score on a cohort; per-ancestry evaluation on held-out samples.

    Writes OUT/score.txt (PGS Catalog format, readable by `genoma risk score`),
    OUT/train_report.json, OUT/evaluation.tsv, OUT/tuning.tsv, OUT/sample_scores.tsv,
    OUT/manifest.json and OUT/run.log.
    """
    import numpy as np

    from genoma import __version__
    from genoma.analyses.risk.train import VERSION, scoring_file_text, train_score
    from genoma.io.output import (
        atomic_write_text,
        check_output_dir,
        run_directory,
        run_log,
        write_json,
    )
    from genoma.io.vcf import read_sample_list
    from genoma.io.vcz import open_cohort, read_sample_table
    from genoma.provenance import InputFile, RunManifest

    check_output_dir(out, force)
    ds = open_cohort(store)
    ph = read_sample_table(pheno)
    cv = read_sample_table(covar) if covar is not None else None
    train_list = read_sample_list(train_samples) if train_samples is not None else None
    ids = np.asarray(ds["sample_id"].values).astype(str)
    pops = _read_populations(populations, ids) if populations is not None else None
    build = str(ds.attrs.get("genome_build", "unknown"))
    manifest = RunManifest.start(
        command="genoma risk train", store=str(store), method=method,
        pheno_column=pheno_column, trait=trait, n_pcs=n_pcs, seed=seed,
        test_fraction=test_fraction, validation_fraction=validation_fraction,
        clump_r2=clump_r2, clump_kb=clump_kb, screen_p=screen_p, max_variants=max_variants,
        l1_ratio=l1_ratio, min_maf=min_maf, keep_ambiguous=keep_ambiguous)
    manifest.genome_build = build
    manifest.analyses["risk.train"] = VERSION
    res = train_score(ds, ph, cv, method=method, pheno_column=pheno_column, trait=trait,
                      train_samples=train_list, populations=pops, n_pcs=n_pcs,
                      clump_r2=clump_r2, clump_kb=clump_kb, screen_p=screen_p,
                      max_variants=max_variants, l1_ratio=l1_ratio, min_maf=min_maf,
                      keep_ambiguous=keep_ambiguous, test_fraction=test_fraction,
                      validation_fraction=validation_fraction, seed=seed)
    pid = pgs_id or f"genoma_{method}_{res.params['pheno_column']}"
    text = scoring_file_text(res, pgs_id=pid, genome_build=build, license_text=license_text,
                             version=__version__)
    report = {"pgs_id": pid, "store": str(store), "genome_build": build, **res.report()}
    with run_directory(out, force=force) as tmp, run_log(tmp):
        for lim in res.limitations:
            _log.warning(lim)
        atomic_write_text(tmp / "score.txt", text)
        write_json(tmp / "train_report.json", report)
        res.evaluation.to_csv(tmp / "evaluation.tsv", sep="\t", index=False, na_rep="NA",
                              float_format="%.6g")
        res.tuning.to_csv(tmp / "tuning.tsv", sep="\t", index=False, float_format="%.6g")
        res.scores.to_csv(tmp / "sample_scores.tsv", sep="\t", index=False,
                          float_format="%.8g")
        for role, p in (("pheno", pheno), ("covar", covar), ("train_samples", train_samples),
                        ("populations", populations)):
            if p is not None:
                manifest.inputs.append(InputFile.of(role, p))
        manifest.outputs = ["score.txt", "train_report.json", "evaluation.tsv", "tuning.tsv",
                            "sample_scores.tsv", "manifest.json", "run.log"]
        manifest.finish("ok")
        write_json(tmp / "manifest.json", manifest.model_dump(mode="json"))
    held = report["held_out"]
    if json_out:
        emit_json({"out": str(out), "pgs_id": pid, "method": method,
                   "n_variants": report["n_variants"], "held_out": held})
    else:
        key = "auc" if res.trait_type == "binary" else "r2"
        txt = ", ".join(f"{r['ancestry']} {key}={r[key]:.3f}" for r in held
                        if r.get(key) is not None)
        console.print(f"{pid}: {report['n_variants']} variants; held out: {txt}",
                      highlight=False)
        console.print(f"scoring file written to {out}/score.txt", highlight=False)
