"""``genoma annotate``: consequences and HGVS on transcripts, VEP-style CSQ output."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from genoma.cli._common import console, emit_json, handle_errors

__all__ = ["register"]


@handle_errors
def annotate(
    vcf: Path = typer.Argument(..., help="Input VCF/BCF (plain, bgzip or BCF)."),
    fasta: Path = typer.Option(..., "--fasta", help="Indexed reference FASTA (same build)."),
    transcripts: Path = typer.Option(..., "--transcripts", help="Transcript models (GFF3 or GTF)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output VCF (.vcf.gz for bgzip)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Annotate variants with SO consequences, HGVS c./p. and positions (CSQ, as Ensembl VEP)."""
    from genoma.annotate.csq import annotate_vcf

    t0 = time.perf_counter()
    with console.status("annotating…"):
        stats = annotate_vcf(vcf, fasta, transcripts, out, force=force)
    summary = {
        "output": str(out), "records": stats.records, "alleles": stats.alleles,
        "csq_entries": stats.entries, "ref_mismatch": stats.ref_mismatch,
        "chromosomes_missing_from_fasta": sorted(stats.chrom_missing),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if stats.ref_mismatch:
        console.print(f"[yellow]warning[/]: {stats.ref_mismatch} record(s) with REF differing from "
                      "the FASTA (FILTER REF_MISMATCH)")
    if json_out:
        emit_json(summary)


def register(app: typer.Typer) -> None:
    """Add the top-level ``annotate`` command to ``app``."""
    app.command("annotate")(annotate)
