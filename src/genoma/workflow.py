"""Single-patient workflow: read inputs, run every available analysis, render the report.

This is the one place that composes I/O, knowledge and analyses for ``genoma analyze``
and ``genoma demo`` (and later the service). The analyses themselves stay pure: they get
model objects and knowledge, and return findings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genoma import __version__
from genoma.errors import InconsistentInputError, UsageError
from genoma.io.output import run_directory, run_log, write_json
from genoma.model.findings import AnalysisResult, Finding, Limitation
from genoma.model.subject import Patient
from genoma.provenance import InputFile, RunManifest

__all__ = ["AnalyzeOptions", "analyze_patient", "run_analyze"]

_log = logging.getLogger(__name__)

REPORT_FORMATS = ("html", "pdf", "json", "fhir")


@dataclass
class AnalyzeOptions:
    """Inputs and options of one ``genoma analyze`` run."""

    vcf: Path
    phenopacket: Path | None = None
    sample: str | None = None
    build: str | None = None
    outside_calls: Path | None = None
    pgs: list[Path] = field(default_factory=list)
    formats: Sequence[str] = REPORT_FORMATS
    command: str = "genoma analyze"
    extra_limitations: list[Limitation] = field(default_factory=list)


@dataclass
class _Step:
    name: str
    run: Callable[[], list[Finding]]


def _choose_sample(samples: list[str], requested: str | None, patient: Patient | None) -> str:
    if requested:
        if requested not in samples:
            raise InconsistentInputError(
                f"sample {requested!r} is not in the VCF (samples: {', '.join(samples[:5])})"
            )
        return requested
    if patient is not None:
        for name in (patient.vcf_sample, patient.id):
            if name and name in samples:
                return name
    if len(samples) == 1:
        return samples[0]
    raise UsageError(
        f"the VCF has {len(samples)} samples and none matches the Phenopacket subject; "
        "choose one with -s"
    )


def _infer_build(vcf_path: Path, sample: str) -> str:
    """Infer the build of a header-less VCF from its REF alleles at PGx positions."""
    from genoma.analyses.pgx.run import infer_build, pgx_regions
    from genoma.io.vcf import open_vcf
    from genoma.kb import get_source

    kb = get_source("pgx").load()
    genes = sorted(set(kb.alleles["Gene"]))
    with open_vcf(vcf_path, samples=[sample]) as vcf:
        genotypes = vcf.genotypes(pgx_regions(genes, None, kb))
    try:
        return infer_build(genotypes, kb)
    except InconsistentInputError as exc:
        raise InconsistentInputError(exc.problem, path=vcf_path) from exc


def analyze_patient(opts: AnalyzeOptions, manifest: RunManifest) -> AnalysisResult:
    """Run every available single-patient analysis and collect the findings.

    Raises
    ------
    GenomaError
        Input missing (3), malformed (4), inconsistent (5), knowledge missing (6).
    """
    from genoma.io.vcf import open_vcf

    patient: Patient | None = None
    if opts.phenopacket is not None:
        from genoma.io.phenopacket import read_phenopacket

        patient = read_phenopacket(opts.phenopacket)
        manifest.inputs.append(InputFile.of("phenopacket", opts.phenopacket))

    with open_vcf(opts.vcf, build=opts.build) as vcf:
        sample = _choose_sample(vcf.samples, opts.sample, patient)
        build = vcf.build
    if build is None:
        build = _infer_build(opts.vcf, sample)
        manifest.parameters["build_inferred_from"] = "REF alleles at PGx positions"
        _log.warning("genome build %s inferred from REF alleles at PGx positions", build)
    manifest.inputs.append(InputFile.of("vcf", opts.vcf))
    manifest.genome_build = build
    if opts.outside_calls is not None:
        manifest.inputs.append(InputFile.of("outside_calls", opts.outside_calls))
    if patient is None:
        patient = Patient(id=sample)

    findings: list[Finding] = []
    limitations: list[Limitation] = list(opts.extra_limitations)

    from genoma import steps

    ctx = steps.PatientContext(
        vcf=opts.vcf, sample=sample, build=build, patient=patient,
        outside_calls=opts.outside_calls, manifest=manifest, pgs=list(opts.pgs),
    )
    for step in steps.patient_steps():
        _log.info("running %s", step.name)
        out = step.run(ctx)
        findings.extend(out)
        manifest.analyses[step.name] = step.version
        ctx.findings.extend(out)
    if not any(f.analysis == "pgx" for f in findings):
        limitations.append(Limitation(text="No pharmacogenomic analysis was available."))
    return AnalysisResult(
        subject=sample,
        findings=tuple(findings),
        limitations=tuple(limitations),
        manifest=manifest,
        patient=patient.model_dump(mode="json"),
    )


def run_analyze(opts: AnalyzeOptions, out: Path, force: bool = False) -> dict[str, object]:
    """Analyse one patient and write the report directory ``out`` atomically.

    Returns a JSON-ready summary (for ``--json``).
    """
    manifest = RunManifest.start(
        opts.command,
        vcf=str(opts.vcf), phenopacket=str(opts.phenopacket) if opts.phenopacket else None,
        sample=opts.sample, build=opts.build, formats=list(opts.formats),
    )
    with run_directory(out, force=force) as tmp, run_log(tmp):
        _log.info("genoma %s: %s", __version__, opts.command)
        result = analyze_patient(opts, manifest)
        manifest.finish("ok")  # the analysis is complete; the report shows this status
        result = result.model_copy(update={"manifest": manifest})
        from genoma.report import render

        written = render(result, tmp, formats=opts.formats)
        manifest.outputs = [*sorted(p.name for p in written.values()), "manifest.json", "run.log"]
        write_json(tmp / "manifest.json", manifest.model_dump(mode="json"))
        _log.info("report written")
    counts: dict[str, int] = {}
    for f in result.findings:
        counts[f.analysis] = counts.get(f.analysis, 0) + 1
    return {
        "out": str(Path(out).resolve()),
        "subject": result.subject,
        "genome_build": manifest.genome_build,
        "findings": counts,
        "outputs": manifest.outputs,
    }
