"""AnalysisResult objects for the report tests (built here, no files needed)."""

from __future__ import annotations

from genoma.model.findings import (
    AnalysisResult,
    Color,
    Confidence,
    Evidence,
    Finding,
    Limitation,
    Recommendation,
)
from genoma.model.variant import Variant
from genoma.provenance import InputFile, KnowledgeVersion, RunManifest

CPIC = Evidence(
    source="pypgx-cpic",
    version="0.27.0",
    identifier="PA166104948",
    url="https://cpicpgx.org/guidelines/guideline-for-clopidogrel-and-cyp2c19/",
    description="CPIC clopidogrel guideline",
)


def manifest(**kw) -> RunManifest:
    m = RunManifest(
        genoma_version="0.1.0",
        command="genoma pgx call sample.vcf.gz -o out",
        started="2026-01-02T03:04:05+00:00",
        finished="2026-01-02T03:05:00+00:00",
        genome_build="GRCh38",
        parameters={"min_depth": 10, "samples": ["NA12878"]},
        inputs=[InputFile(role="vcf", path="/data/sample.vcf.gz", sha256="ab" * 32, size=1234)],
        knowledge=[
            KnowledgeVersion(
                name="pypgx-cpic", version="0.27.0", license="MIT", source="pypi:pypgx"
            )
        ],
        analyses={"pgx": "0.1.0", "rare": "0.1.0"},
        **kw,
    )
    return m


def pgx_findings(subject: str = "NA12878") -> list[Finding]:
    v1 = Variant(chrom="chr10", pos=94781859, ref="G", alt="A", build="GRCh38", id="rs4244285")
    v2 = Variant(chrom="chr10", pos=94842866, ref="A", alt="G", build="GRCh38")
    dip = Finding(
        analysis="pgx",
        analysis_version="0.1.0",
        kind="diplotype",
        title="CYP2C19 *1/*2",
        summary="Intermediate metabolizer",
        subject=subject,
        genes=("CYP2C19",),
        variants=(v1, v2),
        confidence=Confidence.HIGH,
        evidence=(CPIC,),
        limitations=(
            Limitation(text="CYP2C19 structural variants not assessed", code="CYP2C19_SV"),
        ),
        data={
            "diplotype": "*1/*2",
            "phenotype": "Intermediate Metabolizer",
            "activity_score": 1.0,
            "matched_positions": [94781859, 94842866],
            "missing_positions": [94775367],
            "hgnc_id": "HGNC:2621",
            "gene": "CYP2C19",
        },
    )
    dip2 = Finding(
        analysis="pgx",
        analysis_version="0.1.0",
        kind="diplotype",
        title="CYP2D6 not called",
        subject=subject,
        genes=("CYP2D6",),
        confidence=Confidence.NOT_ASSESSABLE,
        limitations=(
            Limitation(
                text="CYP2D6 copy number not assessable from VCF", code="CYP2D6_CNV_NOT_ASSESSABLE"
            ),
        ),
    )
    recs = [
        (
            "clopidogrel",
            Color.RED,
            "Avoid standard dose; use an alternative antiplatelet.",
            "Strong",
        ),
        ("citalopram", Color.YELLOW, "Consider a 50% dose reduction.", "Moderate"),
        ("omeprazole", Color.GREEN, "Initiate standard starting daily dose.", "Optional"),
        ("codeine", Color.GREY, "No recommendation: CYP2D6 not assessable.", None),
    ]
    drugs = [
        Finding(
            analysis="pgx",
            analysis_version="0.1.0",
            kind="drug_recommendation",
            title=f"{d}: CPIC recommendation",
            subject=subject,
            genes=("CYP2D6",) if d == "codeine" else ("CYP2C19",),
            color=c,
            data={"phenotype": "Intermediate Metabolizer"},
            recommendations=(
                Recommendation(
                    text=t,
                    drug=d,
                    genes=("CYP2D6",) if d == "codeine" else ("CYP2C19",),
                    classification=cl,
                    color=c,
                    guideline="CPIC 2022",
                    evidence=(CPIC,),
                ),
            ),
        )
        for d, c, t, cl in recs
    ]
    return [dip, dip2, *drugs]


def generic_finding(subject: str = "NA12878", **kw) -> Finding:
    base = dict(
        analysis="telepathy",
        analysis_version="9.9",
        kind="mind_reading",
        title="A finding from an analysis the renderer has never seen",
        subject=subject,
        summary="Generic card rendering.",
        genes=("BRCA1",),
        color=Color.YELLOW,
        variants=(Variant(chrom="17", pos=43045712, ref="T", alt="C", build="GRCh38"),),
        evidence=(
            Evidence(
                source="clinvar",
                version="2026-01",
                identifier="VCV000012345",
                url="https://www.ncbi.nlm.nih.gov/clinvar/variation/12345/",
            ),
            Evidence(source="bad", version="1", url="javascript:alert(1)"),
        ),
        recommendations=(Recommendation(text="Refer to genetic counselling."),),
        limitations=(Limitation(text="Only coding regions were assessed."),),
        data={
            "score_table": [{"model": "a", "value": 0.5}, {"model": "b", "value": 0.7}],
            "note": "n",
        },
    )
    base.update(kw)
    return Finding(**base)


def patient_json(subject: str = "NA12878") -> dict:
    return {
        "id": subject,
        "sex": "FEMALE",
        "age": "P45Y",
        "features": [
            {"id": "HP:0001250", "label": "Seizure", "excluded": False},
            {"id": "HP:0000365", "label": "Hearing impairment", "excluded": True},
        ],
        "medications": [{"id": "rxnorm:32968", "label": "clopidogrel"}],
    }


def full_result() -> AnalysisResult:
    findings = [
        *pgx_findings(),
        generic_finding(),
        Finding(
            analysis="rare",
            analysis_version="0.1.0",
            kind="diagnosis",
            title="No data finding",
            subject="NA12878",
            rank=1,
        ),
    ]
    return AnalysisResult(
        subject="NA12878",
        findings=tuple(findings),
        manifest=manifest(),
        limitations=(
            Limitation(text="Only SNVs and small indels are called.", code="SNV_ONLY"),
            Limitation(
                text="CYP2D6 copy number not assessable from VCF", code="CYP2D6_CNV_NOT_ASSESSABLE"
            ),
        ),
        patient=patient_json(),
    )


def empty_result() -> AnalysisResult:
    return AnalysisResult(subject="S0", manifest=RunManifest(genoma_version="0.1.0"))
