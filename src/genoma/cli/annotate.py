"""``genoma annotate``: consequences and HGVS on transcripts, VEP-style CSQ output,
optionally with ClinVar, population frequencies, scores and ACMG/AMP evidence."""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path

import typer

from genoma.cli._common import console, emit_json, handle_errors

__all__ = ["register"]


def _evidence(clinvar: str | None, frequencies: list[str], scores: list[str], criteria: Path | None,
              build: str, bs1: float, pm2_max: float, ml: bool = False):
    """Build the EvidenceAnnotator from CLI values (``kb`` = the installed source)."""
    from genoma.annotate.acmg import AcmgConfig
    from genoma.annotate.evidence import EvidenceAnnotator, read_manual_criteria
    from genoma.errors import InconsistentInputError
    from genoma.kb.base import get_source
    from genoma.kb.clinvar import ClinVar
    from genoma.kb.frequencies import FrequencyTable
    from genoma.kb.scores import ScoreTable, parse_score_spec

    cv = None
    if clinvar == "kb":
        src = get_source("clinvar")
        cv = src.load()
        cv.build = getattr(src, "installed_build", None) or cv.build
    elif clinvar:
        cv = ClinVar(clinvar)
    if cv is not None and cv.build and cv.build.upper() != build.upper():
        raise InconsistentInputError(f"ClinVar file is {cv.build} but the input is {build} (--build)",
                                     path=clinvar if clinvar != "kb" else None)
    freqs = []
    for spec in frequencies:
        if spec == "kb":
            src = get_source("frequencies")
            src.require_build(build)
            freqs.append(src.load())
            continue
        path, _, schema = spec.partition("::")
        freqs.append(FrequencyTable(path, schema or None))
    tables = []
    for spec in scores:
        if spec == "kb":
            src = get_source("scores")
            src.require_build(build)
            tables.append(src.load())
            continue
        s = parse_score_spec(spec)
        tables.append(ScoreTable(s.path, s.column, s.name))
    manual = read_manual_criteria(criteria) if criteria else None
    return EvidenceAnnotator(clinvar=cv, frequencies=freqs, scores=tables, manual=manual,
                             config=AcmgConfig(bs1=bs1, pm2_max=pm2_max), ml=ml)


@handle_errors
def annotate(
    vcf: Path = typer.Argument(..., help="Input VCF/BCF (plain, bgzip or BCF)."),
    fasta: Path = typer.Option(..., "--fasta", help="Indexed reference FASTA (same build)."),
    transcripts: Path = typer.Option(..., "--transcripts", help="Transcript models (GFF3 or GTF)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output VCF (.vcf.gz for bgzip)."),
    clinvar: str | None = typer.Option(None, "--clinvar",
                                       help="ClinVar VCF (tabix-indexed), or 'kb' for the installed source."),
    frequencies: list[str] = typer.Option([], "--frequencies",
                                          help="Sites VCF with AF/AC/AN (repeatable; FILE::SCHEMA to force "
                                               "gnomad4/gnomad2/exac/plain; 'kb' = installed gnomAD)."),
    scores: list[str] = typer.Option([], "--scores",
                                     help="Score table FILE:COLUMN[:NAME] (tabix TSV; repeatable; NAME e.g. "
                                          "REVEL, CADD for PP3/BP4; 'kb' = installed CADD)."),
    criteria: Path | None = typer.Option(None, "--criteria",
                                         help="Manual criteria TSV: CHROM POS REF ALT CRITERIA [REASON]."),
    tsv: Path | None = typer.Option(None, "--tsv", help="Also write the ACMG evaluation as TSV."),
    findings: Path | None = typer.Option(None, "--findings", help="Also write P/LP findings as JSON."),
    build: str = typer.Option("GRCh38", "--build", help="Genome build of the input (checked against ClinVar)."),
    bs1: float = typer.Option(0.01, "--bs1", help="BS1 allele-frequency threshold (disease-specific)."),
    pm2_max: float = typer.Option(0.0, "--pm2-max", help="PM2_Supporting up to this AF (0: absent only)."),
    ml: bool = typer.Option(False, "--ml", help="Score picked coding entries with genoma's pathogenicity "
                            "model (ML_PATHOGENICITY; PP3/BP4 supporting when no peer predictor)."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Processes annotating batches in parallel (same output)."),
    compress_level: int | None = typer.Option(None, "--compress-level", min=0, max=9,
                                              help="BGZF deflate level (default: fast)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing outputs."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Annotate variants with SO consequences, HGVS c./p. and positions (CSQ, as Ensembl VEP);
    with --clinvar / --frequencies / --scores / --criteria also ClinVar, population frequencies
    and ACMG/AMP criteria (fields appended at the end of the CSQ format)."""
    from genoma.annotate.csq import annotate_vcf
    from genoma.errors import UsageError

    for p in (tsv, findings):
        if p is not None and p.exists() and not force:
            raise UsageError(f"output {p} exists (use --force to overwrite)")
    t0 = time.perf_counter()
    ext = None
    if clinvar or frequencies or scores or criteria or tsv or findings or ml:
        ext = _evidence(clinvar, frequencies, scores, criteria, build, bs1, pm2_max, ml)
    # the spinner (rich.status, ≈ 15 ms of imports) only where someone watches it
    with console.status("annotating…") if console.is_terminal else nullcontext():
        stats = annotate_vcf(vcf, fasta, transcripts, out, force=force, extender=ext,
                             workers=workers, compress_level=compress_level)
    summary = {
        "output": str(out), "records": stats.records, "alleles": stats.alleles,
        "csq_entries": stats.entries, "ref_mismatch": stats.ref_mismatch,
        "chromosomes_missing_from_fasta": sorted(stats.chrom_missing),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if ext is not None:
        from collections import Counter

        summary["acmg_evaluated"] = len(ext.rows)
        summary["acmg_classes"] = dict(Counter(r.result.richards for r in ext.rows))
        summary["acmg_points_classes"] = dict(Counter(r.result.points_class for r in ext.rows))
        if tsv is not None:
            from genoma.annotate.evidence import write_tsv

            write_tsv(ext.rows, tsv)
            summary["tsv"] = str(tsv)
        if findings is not None:
            found = ext.findings(vcf.name, build)
            tmp = findings.with_name(findings.name + ".tmp")
            tmp.write_text(json.dumps([f.model_dump(mode="json") for f in found], indent=2) + "\n",
                           encoding="utf-8")
            tmp.replace(findings)
            summary["findings"] = len(found)
    if stats.ref_mismatch:
        console.print(f"[yellow]warning[/]: {stats.ref_mismatch} record(s) with REF differing from "
                      "the FASTA (FILTER REF_MISMATCH)")
    if json_out:
        emit_json(summary)


def register(app: typer.Typer) -> None:
    """Add the top-level ``annotate`` command to ``app``."""
    app.command("annotate")(annotate)
