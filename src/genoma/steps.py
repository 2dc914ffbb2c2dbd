"""The single-patient analysis steps ``genoma analyze`` runs, in report order.

Each step adapts one analysis to the workflow: it reads what the analysis needs
(through ``genoma.io`` and ``genoma.kb``), calls the analysis's pure functions and
returns its findings. A step whose analysis is not installed is skipped; a new
capability adds its step here and appears in ``genoma analyze`` and ``genoma demo``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


def _overview_step(ctx: PatientContext) -> list[Finding]:
    from genoma.analyses import overview
    from genoma.io.vcf import open_vcf
    from genoma.kb import get_source

    genes = get_source("genes")
    genes.require_build(ctx.build)
    hpo = get_source("hpo")
    for s in (genes, hpo):
        ctx.manifest.add_knowledge(s.describe())
    with open_vcf(ctx.vcf, samples=[ctx.sample], build=ctx.build) as vcf:
        calls = [c for c in vcf.calls(ctx.sample) if not c.genotype.is_hom_ref
                 and c.genotype.is_called]
    return overview.phenotype_gene_overview(calls, ctx.patient, genes.load(), hpo.load(),
                                            ctx.build)


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
    if _available("genoma.analyses.overview"):
        from genoma.analyses.overview import OVERVIEW_VERSION

        steps.append(Step("overview", OVERVIEW_VERSION, _overview_step))
    return steps
