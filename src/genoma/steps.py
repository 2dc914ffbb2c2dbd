"""The single-patient analysis steps ``genoma analyze`` runs, in report order.

Each step adapts one analysis to the workflow: it reads what the analysis needs
(through ``genoma.io`` and ``genoma.kb``), calls the analysis's pure functions and
returns its findings. A step whose analysis is not installed is skipped; a new
capability adds its step here and appears in ``genoma analyze`` and ``genoma demo``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoma.model.findings import Finding
from genoma.model.subject import Patient
from genoma.provenance import RunManifest

__all__ = ["PatientContext", "Step", "patient_steps"]

_log = logging.getLogger(__name__)


@dataclass
class PatientContext:
    """What a step may use: the inputs, and the findings of earlier steps."""

    vcf: Path
    sample: str
    build: str
    patient: Patient
    manifest: RunManifest
    outside_calls: Path | None = None
    pgs: list[Path] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    name: str
    version: str
    run: Callable[[PatientContext], list[Finding]]


def _pgx_step(ctx: PatientContext) -> list[Finding]:
    from genoma.analyses.pgx import run as pgx_run
    from genoma.io.vcf import open_vcf
    from genoma.kb import get_source

    source = get_source("pgx")
    kb = source.load()
    ctx.manifest.add_knowledge(source.describe())
    outside = None
    if ctx.outside_calls is not None:
        from genoma.io.pgx_outside import read_outside_calls

        outside = read_outside_calls(ctx.outside_calls, kb)
    from genoma.analyses.pgx.caller import callable_genes

    genes = callable_genes(kb, ctx.build)
    with open_vcf(ctx.vcf, samples=[ctx.sample], build=ctx.build) as vcf:
        genotypes = vcf.genotypes(pgx_run.pgx_regions(genes, ctx.build, kb))
    result = pgx_run.pgx_analysis(genotypes, ctx.build, kb, genes=genes, outside=outside)
    findings = list(result.findings(ctx.sample))
    findings.extend(_warfarin(ctx, findings))
    return findings


def _warfarin(ctx: PatientContext, pgx_findings: list[Finding]) -> list[Finding]:
    try:
        from genoma.analyses.pgx.warfarin import warfarin_finding
    except ModuleNotFoundError:
        return []
    by_gene = {f.genes[0]: f for f in pgx_findings if f.kind == "diplotype" and f.genes}
    cyp = by_gene.get("CYP2C9")
    vk = by_gene.get("VKORC1")
    from genoma.analyses.pgx.warfarin import load_warfarin_model

    model = load_warfarin_model()
    ctx.manifest.analyses["pgx.warfarin"] = f"model {model.version}"
    f = warfarin_finding(
        ctx.patient,
        cyp.data.get("diplotype") if cyp and cyp.data.get("status") != "not_callable" else None,
        vk.data.get("diplotype") if vk and vk.data.get("status") != "not_callable" else None,
        model=model,
    )
    return [f] if f is not None else []


def _risk_reference(build: str) -> Any:
    """The embedded 1000 Genomes panel for ancestry, or ``None`` when not installed."""
    from genoma.errors import KnowledgeError

    try:
        from genoma.analyses.ancestry.assign import ReferenceGenotypes
        from genoma.kb import refpanel

        return ReferenceGenotypes.from_panel(refpanel.load(build))
    except (KnowledgeError, ModuleNotFoundError) as exc:
        _log.warning("no ancestry reference for the polygenic scores (%s)", exc)
        return None


def _risk_step(ctx: PatientContext) -> list[Finding]:
    """Polygenic scores of the patient for the ``--pgs`` scoring files (none: no step).

    Raises
    ------
    MalformedInputError
        A malformed scoring file (exit 4).
    InconsistentInputError
        A scoring file on another build, or its overlap below the guard (exit 5).
    """
    if not ctx.pgs:
        return []
    from genoma.analyses.risk.findings import risk_analysis
    from genoma.io.pgs import load_target, read_scoring_file
    from genoma.kb.base import get_source
    from genoma.provenance import InputFile, KnowledgeVersion

    scores = [read_scoring_file(p) for p in ctx.pgs]
    for s in scores:
        ctx.manifest.inputs.append(InputFile.of("pgs", s.path))
        ctx.manifest.add_knowledge(KnowledgeVersion(
            name=s.pgs_id, version=s.header.get("format_version", "custom"),
            license=s.license, source=str(s.path)))
    ctx.manifest.parameters["pgs"] = [str(p) for p in ctx.pgs]
    ctx.manifest.parameters["pgs_licenses"] = {s.pgs_id: s.license for s in scores}
    target = load_target(ctx.vcf, samples=[ctx.sample], build=ctx.build)
    if target.build is None:
        target.build = ctx.build
    reference = _risk_reference(ctx.build)
    run, findings = risk_analysis(target, scores, sample=ctx.sample, reference=reference)
    if run.ancestry is not None:
        src = get_source("1kg-peddy")
        ctx.manifest.add_knowledge(KnowledgeVersion(
            name=src.name, version=src.version, license=src.license, source=src.source))
    return findings


def _overview_step(ctx: PatientContext) -> list[Finding]:
    from genoma.analyses import overview
    from genoma.io.vcf import open_vcf
    from genoma.kb import get_source
    from genoma.kb.genes import gene_source

    genes = gene_source(ctx.build)  # gencode-grch37 for GRCh37 once installed
    hpo = get_source("hpo")
    for s in (genes, hpo):
        ctx.manifest.add_knowledge(s.describe())
    with open_vcf(ctx.vcf, samples=[ctx.sample], build=ctx.build) as vcf:
        calls = [c for c in vcf.calls(ctx.sample) if not c.genotype.is_hom_ref
                 and c.genotype.is_called]
    return overview.phenotype_gene_overview(calls, ctx.patient, genes.load(), hpo.load(),
                                            ctx.build)


def _rare_parents(patient: Patient, ped: Path | None) -> tuple[dict[str, str], frozenset[str]]:
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


@dataclass(frozen=True)
class RareRun:
    """What :func:`rare_diagnosis` returns: the ranking and the knowledge behind it."""

    result: Any
    knowledge: Any
    annotations: Path | None
    build: str | None
    gene_variants: Any = None
    """The patient's variants by gene (``None`` for a phenotype-only run)."""
    annotated: bool = False
    """Whether ``gene_variants`` carry consequences."""
    gene_chroms: dict[str, str] | None = None
    """Gene → chromosome of the knowledge's genes (when a VCF was read)."""
    genotype_limitations: tuple[Any, ...] = ()
    """Caveats of the genotype step (e.g. parents absent from the VCF)."""


def rare_diagnosis(
    patient: Patient,
    *,
    vcf: Path | None = None,
    sample: str | None = None,
    build: str | None = None,
    ped: Path | None = None,
    fasta: Path | None = None,
    transcripts: Path | None = None,
    genes: list[str] | None = None,
    hpo_annotations: Path | None = None,
    source: Path | None = None,
    genotype_from: RareRun | None = None,
    frequencies: Sequence[Any] = (),
) -> RareRun:
    """Read what the rare-disease analysis needs and rank diagnoses for one patient.

    Used by ``genoma rare`` and by the ``rare`` step of ``genoma analyze``. The
    knowledge comes from :func:`genoma.kb.rare_cache.load_rare_knowledge` (disk cache).

    ``genotype_from``: an earlier :class:`RareRun` of the same patient whose grouped
    variants (``gene_variants``, consequences, build, parents' caveats) are reused, so
    re-ranking after the phenotypes change reads and annotates no VCF; ``vcf``,
    ``sample``, ``ped``, ``fasta`` and ``transcripts`` are then ignored.

    ``frequencies``: population allele-frequency tables (objects with ``lookup(chrom, pos,
    ref, alt)`` → :class:`genoma.kb.frequencies.AlleleFrequency`, e.g. the installed
    ``frequencies`` source or a sites VCF); the proband's alleles at or above the genotype
    model's ``max_af`` (highest population frequency across the tables) are not candidates.
    """
    from genoma.analyses.rare import collect_gene_variants, diagnose
    from genoma.analyses.rare.genotype import gene_chromosomes
    from genoma.errors import UsageError
    from genoma.kb.hpo_annotations import find_annotations
    from genoma.kb.rare_cache import load_rare_knowledge
    from genoma.model.findings import Limitation

    ann_path = find_annotations(hpo_annotations)
    kn = load_rare_knowledge(ann_path)
    limitations: list[Limitation] = []
    gene_variants = None
    annotated = False
    gene_chroms: dict[str, str] = {}
    vcf_build = None
    if genotype_from is not None:
        gene_variants = genotype_from.gene_variants
        annotated = genotype_from.annotated
        gene_chroms = dict(genotype_from.gene_chroms or {})
        vcf_build = genotype_from.build
        limitations.extend(genotype_from.genotype_limitations)
    elif vcf is not None:
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
            vcf_build = v.build or build
            rel, affected = _rare_parents(patient, ped)
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
        # frequencies first: common alleles are not candidates, so they are not annotated
        freq_map = _allele_frequencies(calls, frequencies) if frequencies else None
        consequences = None
        if fasta is not None and transcripts is not None:
            from genoma.analyses.rare.genotype import GenotypeParams, variant_key
            from genoma.annotate.csq import Annotator
            from genoma.annotate.model_cache import load_transcripts
            from genoma.annotate.sequence import Reference

            max_af = GenotypeParams().max_af
            todo = calls if not freq_map else [
                c for c in calls if freq_map.get(variant_key(c.variant), 0.0) < max_af]
            consequences = annotate_calls(todo, Annotator(load_transcripts(transcripts),
                                                          Reference(fasta)))
            annotated = True
        gene_variants = collect_gene_variants(
            calls, table, sex=patient.sex, consequences=consequences,
            parents=parents or None, affected_parents=affected, frequencies=freq_map)
        gene_chroms = gene_chromosomes(table, kn.gene_rows)
        if not parents and (rel or ped):
            limitations.append(Limitation(code="RARE_PARENTS_NOT_IN_VCF",
                                          text="parents are in the pedigree but not in the "
                                               "VCF: inheritance was not checked"))
    res = diagnose(patient, kn, gene_variants=gene_variants, annotated=annotated,
                   genes=genes, build=vcf_build, gene_chroms=gene_chroms,
                   limitations=limitations, source=source)
    return RareRun(result=res, knowledge=kn, annotations=ann_path, build=vcf_build,
                   gene_variants=gene_variants, annotated=annotated,
                   gene_chroms=gene_chroms if gene_variants is not None else None,
                   genotype_limitations=tuple(limitations))


def _allele_frequencies(calls: Sequence[Any], tables: Sequence[Any]) -> dict[str, float]:
    """``chrom:pos:ref:alt`` → highest population allele frequency over ``tables``."""
    out: dict[str, float] = {}
    for c in calls:
        v = c.variant
        best = None
        for t in tables:
            f = t.lookup(v.chrom, v.pos, v.ref, v.alt)
            m = None if f is None else (f.max_af if f.max_af is not None else f.af)
            if m is not None:
                best = m if best is None else max(best, m)
        if best is not None:
            out[f"{v.chrom}:{v.pos}:{v.ref}:{v.alt}"] = best
    return out


def _installed_frequencies(build: str | None) -> list[Any]:
    """The installed ``frequencies`` source when it exists for ``build`` (else none)."""
    from genoma.kb.install import installed_record

    if build is None or installed_record("frequencies") is None:
        return []
    from genoma.kb import get_source

    src = get_source("frequencies")
    if build.upper() not in (b.upper() for b in src.builds):
        return []
    return [src.load()]


def _rare_step(ctx: PatientContext) -> list[Finding]:
    if not ctx.patient.observed_terms:
        return []
    from genoma.kb import get_source

    freqs = _installed_frequencies(ctx.build)
    run = rare_diagnosis(ctx.patient, vcf=ctx.vcf, sample=ctx.sample, build=ctx.build,
                         frequencies=freqs)
    if freqs:
        ctx.manifest.add_knowledge(get_source("frequencies").describe())
    ctx.manifest.add_knowledge(get_source("hpo").describe())
    from genoma.provenance import KnowledgeVersion

    ctx.manifest.add_knowledge(KnowledgeVersion(
        name="hpo-annotations", version=run.knowledge.annotation_version,
        license="HPO license (hpo.jax.org/license)",
        source=str(run.annotations) if run.annotations else "hpo3 (no gene-disease links)"))
    return list(run.result.findings(10))


def _available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return False
        raise
    return True


def patient_steps() -> list[Step]:
    """The steps available in this installation, in report order."""
    steps: list[Step] = []
    if _available("genoma.analyses.pgx.run"):
        from genoma.analyses.pgx import PGX_VERSION

        steps.append(Step("pgx", PGX_VERSION, _pgx_step))
    if _available("genoma.analyses.risk.findings"):
        from genoma.analyses.risk.run import ANALYSIS_VERSION as RISK_VERSION

        steps.append(Step("risk", RISK_VERSION, _risk_step))
    if _available("genoma.analyses.rare"):
        from genoma.analyses.rare import ANALYSIS_VERSION as RARE_VERSION

        steps.append(Step("rare", RARE_VERSION, _rare_step))
    if _available("genoma.analyses.overview"):
        from genoma.analyses.overview import OVERVIEW_VERSION

        steps.append(Step("overview", OVERVIEW_VERSION, _overview_step))
    return steps
