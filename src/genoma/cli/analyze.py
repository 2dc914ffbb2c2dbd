"""``genoma analyze`` and ``genoma demo``: one patient in, one report out."""

from __future__ import annotations

import shlex
import sys
import tempfile
from pathlib import Path

import typer

from genoma.cli._common import console, emit_json, handle_errors

__all__ = ["register"]


def _formats(value: str) -> list[str]:
    from genoma.errors import UsageError
    from genoma.workflow import REPORT_FORMATS

    fmts = [f.strip().lower() for f in value.split(",") if f.strip()]
    bad = [f for f in fmts if f not in REPORT_FORMATS]
    if bad or not fmts:
        raise UsageError(
            f"unknown report format(s) {', '.join(bad) or '(none)'}; "
            f"choose from {', '.join(REPORT_FORMATS)}"
        )
    return fmts


@handle_errors
def analyze(
    vcf: Path = typer.Argument(..., help="The patient's VCF/BCF (plain, bgzip or BCF)."),
    phenopacket: Path | None = typer.Option(
        None, "--phenopacket", "-p", help="GA4GH Phenopacket v2 (JSON or YAML)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory (the report)."),
    sample: str | None = typer.Option(None, "-s", "--sample", help="Sample in a multi-sample VCF."),
    build: str | None = typer.Option(None, "--build", help="GRCh37 or GRCh38 when the header cannot tell."),
    outside_calls: Path | None = typer.Option(
        None, "--outside-calls", help="PGx outside calls (PharmCAT format TSV), e.g. CYP2D6."),
    pgs: list[Path] | None = typer.Option(
        None, "--pgs", help="PGS Catalog scoring file for the disease-risk section "
        "(repeatable; same build as the VCF)."),
    fmt: str = typer.Option("html,pdf,json,fhir", "--format", help="Report formats."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Analyse one patient: every available analysis, one report (HTML, PDF, JSON, FHIR)."""
    from genoma.errors import UsageError
    from genoma.io.output import check_output_dir
    from genoma.workflow import AnalyzeOptions, run_analyze

    if build is not None and build not in ("GRCh37", "GRCh38"):
        raise UsageError(f"--build must be GRCh37 or GRCh38, not {build!r}")
    check_output_dir(out, force)  # refuse before any work
    opts = AnalyzeOptions(
        vcf=vcf, phenopacket=phenopacket, sample=sample, build=build,
        outside_calls=outside_calls, pgs=list(pgs or []), formats=_formats(fmt),
        command=shlex.join(["genoma", *sys.argv[1:]]),
    )
    with console.status("analysing…"):
        summary = run_analyze(opts, out, force=force)
    if json_out:
        emit_json(summary)
    else:
        console.print(f"report: {Path(summary['out']) / 'report.html'}")


@handle_errors
def demo(
    out: Path = typer.Option(Path("demo-report"), "-o", "--out", help="Output directory."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    inputs: Path | None = typer.Option(
        None, "--inputs",
        help="Also keep the generated demo VCF, Phenopacket and demonstration score here."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Generate the demo patient and analyse it (the report lands in OUT)."""
    from genoma.demo import write_demo_inputs
    from genoma.io.output import check_output_dir
    from genoma.workflow import AnalyzeOptions, run_analyze

    check_output_dir(out, force)
    with tempfile.TemporaryDirectory(prefix="genoma-demo-") as td:
        where = inputs if inputs is not None else Path(td)
        files = write_demo_inputs(where)
        opts = AnalyzeOptions(vcf=files.vcf, phenopacket=files.phenopacket,
                              pgs=[files.score] if files.score is not None else [],
                              command="genoma demo")
        with console.status("analysing the demo patient…"):
            summary = run_analyze(opts, out, force=force)
    if json_out:
        emit_json(summary)
    else:
        console.print(f"[bold green]demo report[/]: {Path(summary['out']) / 'report.html'}")


def register(app: typer.Typer) -> None:
    """Add the top-level commands to the main app."""
    app.command("analyze")(analyze)
    app.command("demo")(demo)
