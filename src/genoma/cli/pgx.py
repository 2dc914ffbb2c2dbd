"""``genoma pgx``: star alleles → phenotypes → CPIC recommendations; warfarin dosing.

Thin: the logic is in :mod:`genoma.analyses.pgx`. Two forms share the ``pgx`` group::

    genoma pgx VCF [-s S | -S FILE] [--build B] [--genes G1,G2] [--outside-calls TSV] -o OUT
    genoma pgx warfarin TABLE.csv -o OUT

Click cannot mix a positional argument with subcommands, so the group routes any first
argument that is not a subcommand name to the default ``call`` command
(``genoma pgx call VCF …`` is the explicit form).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

from genoma.cli._common import console, emit_json, handle_errors, samples_option

__all__ = ["app"]

_log = logging.getLogger("genoma.pgx")
_DEFAULT = "call"
_WARFARIN_MODULE = "genoma.cli.pgx_warfarin"


def _warfarin_available() -> bool:
    try:
        return importlib.util.find_spec(_WARFARIN_MODULE) is not None
    except (ImportError, ValueError):
        return False


def _warfarin_command() -> click.Command | None:
    """The ``warfarin`` command, built from ``genoma.cli.pgx_warfarin.warfarin`` on demand."""
    if not _warfarin_available():
        return None
    import importlib

    mod = importlib.import_module(_WARFARIN_MODULE)
    fn = getattr(mod, "warfarin", None)
    if fn is None:
        return None
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    sub.command("warfarin")(fn)
    cmd = typer.main.get_command(sub)
    cmd.name = "warfarin"
    return cmd


class PgxGroup(TyperGroup):
    """A group whose first argument, when not a subcommand, goes to ``call``.

    ``warfarin`` is imported only when it is invoked or listed in the help, so a plain
    ``genoma pgx VCF`` does not pay for the warfarin model's imports.
    """

    def _names(self) -> set[str]:
        names = set(self.commands)
        if _warfarin_available():
            names.add("warfarin")
        return names

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self._names() and args[0] not in ("--help", "-h"):
            args = [_DEFAULT, *args]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._names())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "warfarin" and "warfarin" not in self.commands:
            cmd = _warfarin_command()
            if cmd is not None:
                self.commands["warfarin"] = cmd
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=PgxGroup,
    help="Pharmacogenomics: star alleles, phenotypes, CPIC recommendations, warfarin.",
    no_args_is_help=True,
)


@app.callback()
def _pgx() -> None:
    """Pharmacogenomics: `genoma pgx VCF -o OUT` calls star alleles, phenotypes and CPIC
    recommendations for every sample; `genoma pgx warfarin TABLE.csv -o OUT` predicts
    warfarin doses."""


def _write_tsv(df: Any, path: Path) -> None:
    """Write a table as TSV; list cells joined by ``;``.

    ``missing_positions`` is written ``all`` when every defining position of the gene
    is missing (a not-callable gene), instead of repeating the full list on every row.
    """
    out = df.copy()
    if "missing_positions" in out.columns and "n_positions" in out.columns:
        out["missing_positions"] = [
            "all" if isinstance(v, list) and n and len(v) >= n else v
            for v, n in zip(out["missing_positions"], out["n_positions"], strict=True)]
    for col in ("candidates", "missing_positions", "notes"):
        if col in out.columns:
            out[col] = [";".join(map(str, v)) if isinstance(v, list) else v
                        for v in out[col]]
    out.to_csv(path, sep="\t", index=False, na_rep="")


def _phasing_panel(directory: Path, genes: list[str], build: str, knowledge: Any,
                   manifest: Any) -> dict[str, Any]:
    """Haplotype counts of every gene with a ``<GENE>.vcf.gz`` in ``directory``."""
    from genoma.analyses.pgx.caller import gene_regions, haplotype_frequencies
    from genoma.errors import InputMissingError
    from genoma.io.vcf import open_vcf
    from genoma.provenance import InputFile

    if not directory.is_dir():
        raise InputMissingError("phasing panel directory not found", path=directory)
    out: dict[str, Any] = {}
    for gene in genes:
        f = directory / f"{gene}.vcf.gz"
        if not f.exists():
            continue
        with open_vcf(f, build=build) as v:
            g = v.genotypes(gene_regions([gene], build, knowledge))
        out[gene] = haplotype_frequencies(g, gene, build, knowledge,
                                          source=f"{directory.name}/{f.name}")
        manifest.inputs.append(InputFile.of(f"phasing_panel:{gene}", f))
    _log.info("phasing panel %s: %d of %d genes", directory, len(out), len(genes))
    return out


@app.command("call")
@handle_errors
def call(
    vcf: Path = typer.Argument(..., help="VCF/BCF (plain or bgzip), one or many samples."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory."),
    samples: str | None = typer.Option(None, "-s", "--samples",
                                       help="Comma-separated samples (as bcftools -s)."),
    samples_file: Path | None = typer.Option(None, "-S", "--samples-file",
                                             help="File of samples, one per line."),
    build: str | None = typer.Option(
        None, "--build", help="GRCh37 or GRCh38 (default: VCF header, else inferred "
        "from the REF alleles at PGx positions)."),
    genes: str | None = typer.Option(
        None, "--genes", help="Comma-separated genes (default: every gene callable from "
        "SNVs/indels)."),
    outside_calls: Path | None = typer.Option(
        None, "--outside-calls", help="Outside calls TSV (PharmCAT format: gene, "
        "diplotype, phenotype, activity score); override the VCF for their genes."),
    assume_ref: bool = typer.Option(
        True, "--assume-ref/--no-assume-ref",
        help="Take defining positions absent from the VCF as reference (variant-only "
        "VCFs); listed as missing either way."),
    definitions: str = typer.Option(
        "pypgx", "--definitions",
        help="Allele definitions: 'pypgx' (embedded CPIC/PharmVar tables, GRCh37 and "
        "GRCh38) or 'pharmcat' (PharmCAT 3.1.1 / ClinPGx, GRCh38 only; install with "
        "`genoma kb install pharmcat`)."),
    phasing_panel: Path | None = typer.Option(
        None, "--phasing-panel",
        help="Directory of phased reference VCFs, one per gene (<GENE>.vcf.gz, e.g. the "
        "1000 Genomes panels of pypgx-bundle): unphased samples are phased by the "
        "panel's haplotype frequencies before matching."),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUT."),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Call star-allele diplotypes, phenotypes and CPIC recommendations from a VCF.

    Writes OUT/pgx.tsv (sample × gene), OUT/recommendations.tsv (sample × drug),
    OUT/manifest.json and OUT/run.log.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from genoma.analyses.pgx.caller import callable_genes
    from genoma.analyses.pgx.run import (
        ANALYSIS,
        ANALYSIS_VERSION,
        infer_build,
        pgx_analysis,
        pgx_regions,
    )
    from genoma.errors import UsageError
    from genoma.io.output import check_output_dir, run_directory, run_log, write_json
    from genoma.io.pgx_outside import HLA_GENES, read_outside_calls
    from genoma.io.vcf import open_vcf
    from genoma.kb import get_source
    from genoma.provenance import InputFile, KnowledgeVersion, RunManifest

    check_output_dir(out, force)
    if build is not None and build not in ("GRCh37", "GRCh38"):
        raise UsageError(f"unknown genome build {build!r} (expected GRCh37 or GRCh38)")
    sample_list = samples_option(samples, samples_file)
    sources = {"pypgx": "pgx", "pharmcat": "pharmcat"}
    if definitions not in sources:
        raise UsageError(f"unknown --definitions {definitions!r} (expected pypgx or pharmcat)")
    src = get_source(sources[definitions])
    if build is not None:
        src.require_build(build)
    knowledge = src.load()
    known = set(knowledge.alleles["Gene"].astype(str)) | set(HLA_GENES)
    gene_list = None
    if genes:
        gene_list = list(dict.fromkeys(g.strip() for g in genes.split(",") if g.strip()))
        unknown = [g for g in gene_list if g not in known]
        if unknown:
            raise UsageError(f"unknown gene(s) for --genes: {', '.join(unknown)}")
    outside = read_outside_calls(outside_calls, knowledge) if outside_calls else None
    outside_genes = {oc.gene for oc in outside or []}
    defined = set(knowledge.alleles["Gene"].astype(str))
    only_outside = [g for g in gene_list or [] if g not in defined and g not in outside_genes]
    if only_outside:
        raise UsageError(f"{', '.join(only_outside)}: no allele definitions in the "
                         "knowledge; give them with --outside-calls")
    vcf_file = open_vcf(vcf, samples=sample_list, build=build)

    with vcf_file as v, run_directory(out, force=force) as tmp:
        with run_log(tmp):
            manifest = RunManifest.start(
                "genoma pgx", vcf=str(vcf), samples=sample_list, build=build,
                genes=gene_list, outside_calls=str(outside_calls) if outside_calls else None,
                assume_ref=assume_ref, definitions=definitions,
                phasing_panel=str(phasing_panel) if phasing_panel else None)
            manifest.inputs.append(InputFile.of("vcf", vcf))
            if outside_calls:
                manifest.inputs.append(InputFile.of("outside_calls", outside_calls))
            manifest.add_knowledge(KnowledgeVersion(
                name=src.name, version=knowledge.version, license=src.license,
                source=src.source, checksum=src.checksum()))
            if src.name != "pgx":  # CPIC drug tables and priorities stay the embedded ones
                base = get_source("pgx")
                manifest.add_knowledge(KnowledgeVersion(
                    name=base.name, version=base.version, license=base.license,
                    source=base.source, checksum=base.checksum()))
            manifest.analyses[ANALYSIS] = ANALYSIS_VERSION
            b = v.build
            if b is None:
                pool = sorted(set(callable_genes(knowledge, "GRCh37"))
                              | set(callable_genes(knowledge, "GRCh38")))
                want = [g for g in (gene_list or pool) if g in pool]
                gt = v.genotypes(pgx_regions(want, None, knowledge))
                b = infer_build(gt, knowledge)
                gt.build = b
                _log.warning("genome build not in the VCF header; inferred %s from the "
                             "REF alleles at PGx positions", b)
            else:
                cg = set(callable_genes(knowledge, b))
                want = [g for g in (gene_list or sorted(cg)) if g in cg]
                gt = v.genotypes(pgx_regions(want, b, knowledge))
            src.require_build(b)
            manifest.genome_build = b
            run_genes = gene_list or callable_genes(knowledge, b)
            _log.info("%s: %d samples, %d sites, build %s, %d genes", vcf, gt.n_samples,
                      gt.n_sites, b, len(run_genes))
            panel = (_phasing_panel(phasing_panel, run_genes, b, knowledge, manifest)
                     if phasing_panel else None)
            with Progress(TextColumn("[bold]pgx[/] {task.description}"), BarColumn(),
                          MofNCompleteColumn(), console=console, transient=True) as bar:
                task = bar.add_task("calling", total=len(run_genes))

                def _tick(gene: str) -> None:
                    bar.update(task, advance=1, description=gene)

                run = pgx_analysis(gt, b, knowledge, genes=run_genes, outside=outside,
                                   progress=_tick, assume_ref_when_absent=assume_ref,
                                   phasing_panel=panel)
            _write_tsv(run.calls, tmp / "pgx.tsv")
            _write_tsv(run.recommendations, tmp / "recommendations.tsv")
            summary = run.summary()
            _log.info("done: %s", summary)
            manifest.outputs = ["pgx.tsv", "recommendations.tsv", "manifest.json", "run.log"]
            manifest.finish("ok")
            write_json(tmp / "manifest.json", manifest.model_dump(mode="json"))
    if json_out:
        emit_json({"command": "pgx", "out": str(out), **summary,
                   "outputs": [str(out / f) for f in manifest.outputs]})
    else:
        console.print(f"[green]pgx[/]: {summary['samples']} sample(s) × {summary['genes']} "
                      f"gene(s) ({b}) → {out}")
