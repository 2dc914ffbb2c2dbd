"""Findings → an HL7 FHIR R4 bundle following the Genomics Reporting IG (STU3).

Model choice
------------
``fhir.resources`` 8.x ships R5 models at the top level and the ``R4B`` and ``STU3``
sub-packages; it has no plain R4 package. The Genomics Reporting IG STU3 (3.0.0) is
built on FHIR R4 (4.0.1). R4B changed only a few medication/product and subscription
resources and left Bundle, Patient, Observation and DiagnosticReport (the only
resources used here) unchanged, so the JSON produced with :mod:`fhir.resources.R4B` is
valid R4 for these resources. Every resource is validated on construction.

Mapping
-------
* ``Patient`` — from the patient JSON (id, gender).
* ``DiagnosticReport`` — profile ``genomics-report``, code LOINC 51969-4 "Genetic
  analysis report", ``result`` referencing every Observation below, the report
  conclusion (summary + limitations) and, when given, the HTML report as
  ``presentedForm``.
* Variant ``Observation`` (profile ``variant``, LOINC 69548-6, value LA9633-4
  "Present") for each distinct :class:`~genoma.model.variant.Variant` in the findings:
  components 62374-4 (assembly), 48013-7 (RefSeq chromosome accession), 69547-8 (ref),
  69551-0 (alt), 81254-5 (exact start-end, with 92822-6 coordinate system
  1-based), 81252-9 (dbSNP id when the variant has an ``rs`` id), 81290-9 (genomic HGVS
  for SNVs), 48018-6 (gene studied) and 48004-6 (c.HGVS) when the finding's ``data``
  carries ``hgvs_c``.
* Genotype ``Observation`` (profile ``genotype``, LOINC 84413-4) per ``diplotype``
  finding, with component 48018-6 gene studied and ``derivedFrom`` its variants.
* Therapeutic-implication ``Observation`` (code ``therapeutic-implication`` of
  ``tbd-codes-cs``) per recommendation of each ``drug_recommendation`` finding, with
  components conclusion-string, 51963-7 medication assessed, 53040-2 predicted
  phenotype (effect on drug metabolism) and 93044-6 evidence level (the guideline
  classification); ``derivedFrom`` the genotype Observations of its genes.
* Diagnostic-implication ``Observation`` for every other finding, with the
  conclusion-string, 48018-6 genes, ``derivedFrom`` its variant Observations.

Gene codes are HGNC ids (``http://www.genenames.org/geneId``) when the finding's
``data`` provides them (``hgnc_id`` or ``hgnc_ids`` = ``{symbol: "HGNC:…"}``);
otherwise the gene symbol is given as text only.

References
----------
HL7 International Clinical Genomics WG. Genomics Reporting Implementation Guide, STU3
(3.0.0). http://hl7.org/fhir/uv/genomics-reporting
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from genoma.model.findings import AnalysisResult, Finding, Recommendation
from genoma.model.variant import Variant

__all__ = [
    "GENOMICS_IG",
    "LOINC",
    "PROFILES",
    "TBD_CODES",
    "to_fhir",
]

GENOMICS_IG = "http://hl7.org/fhir/uv/genomics-reporting"
TBD_CODES = f"{GENOMICS_IG}/CodeSystem/tbd-codes-cs"
LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org/geneId"
REFSEQ = "http://www.ncbi.nlm.nih.gov/refseq"
DBSNP = "http://www.ncbi.nlm.nih.gov/snp"
HGVS = "http://varnomen.hgvs.org"
PROFILES = {
    "report": f"{GENOMICS_IG}/StructureDefinition/genomics-report",
    "variant": f"{GENOMICS_IG}/StructureDefinition/variant",
    "genotype": f"{GENOMICS_IG}/StructureDefinition/genotype",
    "therapeutic": f"{GENOMICS_IG}/StructureDefinition/therapeutic-implication",
    "diagnostic": f"{GENOMICS_IG}/StructureDefinition/diagnostic-implication",
}

_ASSEMBLY = {"GRCh37": ("LA14029-5", "GRCh37"), "GRCh38": ("LA26806-2", "GRCh38")}
# RefSeq accessions of the primary chromosomes: GRCh38 versions are one above GRCh37's.
_NC_V37 = {
    "1": 10,
    "2": 11,
    "3": 11,
    "4": 11,
    "5": 9,
    "6": 11,
    "7": 13,
    "8": 10,
    "9": 11,
    "10": 10,
    "11": 9,
    "12": 11,
    "13": 10,
    "14": 8,
    "15": 9,
    "16": 9,
    "17": 10,
    "18": 9,
    "19": 9,
    "20": 10,
    "21": 8,
    "22": 10,
    "X": 10,
    "Y": 9,
}
_GENDER = {"FEMALE": "female", "MALE": "male", "OTHER_SEX": "other", "UNKNOWN_SEX": "unknown"}
_CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "laboratory",
                "display": "Laboratory",
            }
        ]
    },
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                "code": "GE",
                "display": "Genetics",
            }
        ]
    },
]


def refseq_accession(chrom: str, build: str) -> str | None:
    """RefSeq ``NC_`` accession of a primary chromosome (``chr7``, ``GRCh38``).

    Returns ``None`` for contigs that are not primary chromosomes.
    """
    bare = chrom[3:] if chrom.startswith("chr") else chrom
    if bare == "M":
        return "NC_012920.1"
    v = _NC_V37.get(bare)
    if v is None or build not in _ASSEMBLY:
        return None
    num = {"X": 23, "Y": 24}.get(bare) or int(bare)
    return f"NC_{num:06d}.{v + (1 if build == 'GRCh38' else 0)}"


def _loinc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code, "display": display}]}


def _tbd(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": TBD_CODES, "code": code, "display": display}]}


def _gene_concept(symbol: str, data: dict[str, Any]) -> dict[str, Any]:
    ids = data.get("hgnc_ids") if isinstance(data.get("hgnc_ids"), dict) else {}
    hgnc = ids.get(symbol) if ids else None
    if hgnc is None and isinstance(data.get("hgnc_id"), str) and data.get("gene") == symbol:
        hgnc = data["hgnc_id"]
    if hgnc:
        return {"coding": [{"system": HGNC, "code": str(hgnc), "display": symbol}], "text": symbol}
    return {"text": symbol}


def _gene_component(symbol: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": _loinc("48018-6", "Gene studied [ID]"),
        "valueCodeableConcept": _gene_concept(symbol, data),
    }


def _string_component(code: dict[str, Any], text: str) -> dict[str, Any]:
    return {"code": code, "valueString": text}


def _concept_component(code: dict[str, Any], text: str) -> dict[str, Any]:
    return {"code": code, "valueCodeableConcept": {"text": text}}


def _notes(f: Finding) -> list[dict[str, str]]:
    notes = [
        {
            "text": f"genoma {f.analysis} {f.analysis_version} ({f.kind}); "
            f"confidence: {f.confidence.value}"
        }
    ]
    for e in f.evidence:
        bits = [f"{e.source} {e.version}", e.identifier or "", e.url or "", e.description]
        notes.append({"text": "Evidence: " + "; ".join(b for b in bits if b)})
    for lim in f.limitations:
        notes.append({"text": "Limitation: " + lim.text})
    return notes


class _Builder:
    """Accumulates validated resources with stable ``urn:uuid`` full URLs."""

    def __init__(self, result: AnalysisResult) -> None:
        self.result = result
        self.seed = f"genoma:{result.subject}:{result.manifest.started}"
        self.entries: list[tuple[str, Any]] = []
        self.when = result.manifest.finished or result.manifest.started

    def urn(self, key: str) -> str:
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}:{key}"))

    def add(self, cls: Any, body: dict[str, Any], key: str) -> str:
        url = self.urn(key)
        body = {"id": url.removeprefix("urn:uuid:"), **body}
        self.entries.append((url, cls.model_validate(body)))  # validates on construction
        return url


def _observation_base(
    profile: str,
    code: dict[str, Any],
    patient: str,
    when: str,
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "meta": {"profile": [profile]},
        "status": "final",
        "category": _CATEGORY,
        "code": code,
        "subject": {"reference": patient},
        "effectiveDateTime": when,
        **({"issued": when} if _is_instant(when) else {}),
    }


def _is_instant(s: str) -> bool:
    """True when ``s`` is a full date-time with a time zone (FHIR ``instant``)."""
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", s))


def _variant_obs(v: Variant, f: Finding, patient: str, when: str) -> dict[str, Any]:
    body = _observation_base(
        PROFILES["variant"], _loinc("69548-6", "Genetic variant assessment"), patient, when
    )
    body["valueCodeableConcept"] = _loinc("LA9633-4", "Present")
    comps: list[dict[str, Any]] = []
    la, name = _ASSEMBLY[v.build]
    comps.append(
        {
            "code": _loinc("62374-4", "Human reference sequence assembly version"),
            "valueCodeableConcept": _loinc(la, name),
        }
    )
    acc = refseq_accession(v.chrom, v.build)
    if acc:
        comps.append(
            {
                "code": _loinc("48013-7", "Genomic reference sequence [ID]"),
                "valueCodeableConcept": {"coding": [{"system": REFSEQ, "code": acc}]},
            }
        )
    comps.append(_string_component(_loinc("69547-8", "Genomic ref allele [ID]"), v.ref))
    comps.append(_string_component(_loinc("69551-0", "Genomic alt allele [ID]"), v.alt))
    comps.append(
        {
            "code": _loinc("92822-6", "Genomic coordinate system [Type]"),
            "valueCodeableConcept": _loinc("LA30102-0", "1-based character counting"),
        }
    )
    comps.append(
        {
            "code": _loinc("81254-5", "Genomic allele start-end"),
            "valueRange": {"low": {"value": v.pos}, "high": {"value": v.end}},
        }
    )
    if v.id and v.id.lower().startswith("rs"):
        comps.append(
            {
                "code": _loinc("81252-9", "Discrete genetic variant"),
                "valueCodeableConcept": {"coding": [{"system": DBSNP, "code": v.id}]},
            }
        )
    if acc and v.is_snv:
        comps.append(
            {
                "code": _loinc("81290-9", "Genomic DNA change (gHGVS)"),
                "valueCodeableConcept": {
                    "coding": [{"system": HGVS, "code": f"{acc}:g.{v.pos}{v.ref}>{v.alt}"}]
                },
            }
        )
    hgvs_c = f.data.get("hgvs_c")
    if isinstance(hgvs_c, dict):
        hgvs_c = hgvs_c.get(v.key)
    if isinstance(hgvs_c, str) and hgvs_c:
        comps.append(
            {
                "code": _loinc("48004-6", "DNA change (c.HGVS)"),
                "valueCodeableConcept": {"coding": [{"system": HGVS, "code": hgvs_c}]},
            }
        )
    comps.extend(_gene_component(g, f.data) for g in f.genes)
    body["component"] = comps
    return body


def _therapeutic_obs(
    rec: Recommendation,
    f: Finding,
    patient: str,
    when: str,
    derived: list[str],
    gene_phenotypes: str = "",
) -> dict[str, Any]:
    body = _observation_base(
        PROFILES["therapeutic"],
        _tbd("therapeutic-implication", "Therapeutic Implication"),
        patient,
        when,
    )
    comps = [_string_component(_tbd("conclusion-string", "Conclusion Text"), rec.text)]
    drug = rec.drug or f.data.get("drug") or f.title
    comps.append(_concept_component(_loinc("51963-7", "Medication assessed [ID]"), str(drug)))
    phenotype = f.data.get("phenotype") or f.data.get("phenotypes") or gene_phenotypes
    if isinstance(phenotype, str) and phenotype:
        comps.append(
            _concept_component(
                _loinc("53040-2", "Genetic variation's effect on drug metabolism"), phenotype
            )
        )
    if rec.classification:
        comps.append(_concept_component(_loinc("93044-6", "Level of evidence"), rec.classification))
    comps.extend(_gene_component(g, f.data) for g in (rec.genes or f.genes))
    body["component"] = comps
    body["interpretation"] = [{"text": f"traffic light: {rec.color.value}"}]
    if derived:
        body["derivedFrom"] = [{"reference": r} for r in derived]
    notes = _notes(f)
    if rec.guideline:
        notes.append({"text": "Guideline: " + rec.guideline})
    for e in rec.evidence:
        notes.append(
            {"text": f"Evidence: {e.source} {e.version} {e.identifier or ''} {e.url or ''}".strip()}
        )
    body["note"] = notes
    return body


def to_fhir(result: AnalysisResult, html: str | None = None) -> Any:
    """Build an HL7 FHIR R4 ``Bundle`` (type ``collection``) of the Genomics Reporting IG.

    Parameters
    ----------
    result
        The run result.
    html
        The HTML report; when given it is attached as the DiagnosticReport's
        ``presentedForm`` (``text/html``, base64).

    Returns
    -------
    fhir.resources.R4B.bundle.Bundle
        The validated bundle; ``bundle.model_dump_json()`` gives its JSON.
    """
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.patient import Patient

    b = _Builder(result)
    when = b.when
    p = result.patient or {}
    patient_body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:genoma:subject", "value": p.get("id") or result.subject}],
        "gender": _GENDER.get(str(p.get("sex", "UNKNOWN_SEX")), "unknown"),
    }
    patient = b.add(Patient, patient_body, "patient")

    results: list[str] = []
    variant_urls: dict[str, str] = {}

    def variants_of(f: Finding) -> list[str]:
        urls = []
        for v in f.variants:
            if v.key + v.build not in variant_urls:
                variant_urls[v.key + v.build] = b.add(
                    Observation, _variant_obs(v, f, patient, when), f"variant:{v.build}:{v.key}"
                )
                results.append(variant_urls[v.key + v.build])
            urls.append(variant_urls[v.key + v.build])
        return urls

    # genotypes first, so that implications can point at them
    genotype_by_gene: dict[str, list[str]] = {}
    phenotype_by_gene: dict[str, list[str]] = {}
    for i, f in enumerate(result.findings):
        if f.kind != "diplotype":
            continue
        derived = variants_of(f)
        gene = f.genes[0] if f.genes else str(f.data.get("gene", ""))
        dip = f.data.get("diplotype")
        display = f"{gene} {dip}".strip() if dip else f.title
        body = _observation_base(
            PROFILES["genotype"], _loinc("84413-4", "Genotype display name"), patient, when
        )
        body["valueCodeableConcept"] = {"text": display}
        gene_comps = [_gene_component(g, f.data) for g in (f.genes or (gene,)) if g]
        if gene_comps:
            body["component"] = gene_comps
        if derived:
            body["derivedFrom"] = [{"reference": r} for r in derived]
        notes = _notes(f)
        if f.data.get("phenotype"):
            notes.append({"text": f"Phenotype: {f.data['phenotype']}"})
        if f.data.get("activity_score") is not None:
            notes.append({"text": f"Activity score: {f.data['activity_score']}"})
        body["note"] = notes
        url = b.add(Observation, body, f"finding:{i}")
        results.append(url)
        for g in f.genes or (gene,):
            genotype_by_gene.setdefault(g, []).append(url)
            if f.data.get("phenotype"):
                phenotype_by_gene.setdefault(g, []).append(str(f.data["phenotype"]))

    for i, f in enumerate(result.findings):
        if f.kind == "diplotype":
            continue
        derived_variants = variants_of(f)
        if f.kind == "drug_recommendation" and f.recommendations:
            for j, rec in enumerate(f.recommendations):
                derived = [u for g in (rec.genes or f.genes) for u in genotype_by_gene.get(g, [])]
                derived = list(dict.fromkeys(derived + derived_variants))
                phen = "; ".join(
                    f"{g}: {p}"
                    for g in (rec.genes or f.genes)
                    for p in phenotype_by_gene.get(g, [])
                )
                results.append(
                    b.add(
                        Observation,
                        _therapeutic_obs(rec, f, patient, when, derived, phen),
                        f"finding:{i}:rec:{j}",
                    )
                )
            continue
        body = _observation_base(
            PROFILES["diagnostic"],
            _tbd("diagnostic-implication", "Diagnostic Implication"),
            patient,
            when,
        )
        text = f.title + (f": {f.summary}" if f.summary else "")
        comps = [_string_component(_tbd("conclusion-string", "Conclusion Text"), text)]
        comps.extend(_gene_component(g, f.data) for g in f.genes)
        body["component"] = comps
        body["interpretation"] = [{"text": f"traffic light: {f.color.value}"}]
        if derived_variants:
            body["derivedFrom"] = [{"reference": r} for r in derived_variants]
        notes = _notes(f)
        notes.extend({"text": f"Recommendation: {r.text}"} for r in f.recommendations)
        body["note"] = notes
        results.append(b.add(Observation, body, f"finding:{i}"))

    lims = list(
        dict.fromkeys(
            [lim.text for lim in result.limitations]
            + [lim.text for f in result.findings for lim in f.limitations]
        )
    )
    conclusion = f"{len(result.findings)} findings by genoma {result.manifest.genoma_version}."
    if lims:
        conclusion += " Limitations: " + " | ".join(lims)
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [PROFILES["report"]]},
        "status": "final",
        "category": [_CATEGORY[1]],
        "code": _loinc("51969-4", "Genetic analysis report"),
        "subject": {"reference": patient},
        "effectiveDateTime": when,
        **({"issued": when} if _is_instant(when) else {}),
        "conclusion": conclusion,
    }
    if results:
        report["result"] = [{"reference": r} for r in results]
    if html is not None:
        report["presentedForm"] = [
            {
                "contentType": "text/html",
                "language": "en",
                "title": "genoma report",
                "data": base64.b64encode(html.encode("utf-8")).decode("ascii"),
            }
        ]
    report_url = b.add(DiagnosticReport, report, "report")
    entries = [(report_url, b.entries[-1][1]), *b.entries[:-1]]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": b.urn("bundle").removeprefix("urn:uuid:"),
            "type": "collection",
            **({"timestamp": when} if _is_instant(when) else {}),
            "entry": [{"fullUrl": u, "resource": r} for u, r in entries],
        }
    )
