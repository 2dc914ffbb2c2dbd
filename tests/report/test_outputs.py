"""findings.json, the FHIR Genomics bundle, the PDF and render()."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from _report_builders import empty_result, full_result, generic_finding, manifest

from genoma.errors import MalformedInputError, UsageError
from genoma.model.findings import AnalysisResult
from genoma.report import SCHEMA_VERSION, from_json, render, to_fhir, to_html, to_json, to_pdf
from genoma.report.fhir import PROFILES, TBD_CODES, refseq_accession

IG = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/"


def pdf_page_count(pdf: bytes) -> int:
    """Number of ``/Type /Page`` objects, looking inside compressed object streams."""
    import zlib

    chunks = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(m.group(1)))
        except zlib.error:
            continue
    return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", c)) for c in chunks)


# ----------------------------------------------------------------------------- JSON


def test_json_round_trip() -> None:
    r = full_result()
    doc = to_json(r)
    assert doc["schema_version"] == SCHEMA_VERSION
    text = json.dumps(doc)
    assert from_json(text) == r
    assert (
        AnalysisResult.model_validate({k: v for k, v in doc.items() if k != "schema_version"}) == r
    )


def test_json_rejects_other_major_version_and_garbage() -> None:
    doc = to_json(empty_result())
    doc["schema_version"] = "2.0"
    with pytest.raises(MalformedInputError, match="schema_version"):
        from_json(doc, path="findings.json")
    with pytest.raises(MalformedInputError, match=re.escape("findings.json:1")):
        from_json("{not json", path="findings.json")


# ----------------------------------------------------------------------------- FHIR


def _resources(bundle) -> list[dict]:
    return [e["resource"] for e in json.loads(bundle.model_dump_json())["entry"]]


def _codes(res: dict) -> set[str]:
    return {c["code"] for c in res["code"].get("coding", [])}


def _component_codes(res: dict) -> set[str]:
    return {c["code"] for comp in res.get("component", []) for c in comp["code"]["coding"]}


@pytest.fixture(scope="module")
def bundle():
    return to_fhir(full_result())


def test_fhir_bundle_validates_and_round_trips(bundle) -> None:
    from fhir.resources.R4B.bundle import Bundle

    assert bundle.type == "collection"
    again = Bundle.model_validate_json(bundle.model_dump_json())
    assert again.model_dump_json() == bundle.model_dump_json()
    urls = [e.fullUrl for e in bundle.entry]
    assert len(urls) == len(set(urls)) and all(u.startswith("urn:uuid:") for u in urls)
    # every reference resolves inside the bundle
    refs = set(_all_refs(json.loads(bundle.model_dump_json())))
    assert refs and refs <= set(urls)


def _all_refs(node) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                out.extend(_all_refs(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_all_refs(v))
    return out


def test_fhir_report_and_patient(bundle) -> None:
    res = _resources(bundle)
    report = res[0]
    assert report["resourceType"] == "DiagnosticReport"
    assert report["meta"]["profile"] == [IG + "genomics-report"]
    assert _codes(report) == {"51969-4"}
    assert "CYP2D6 copy number not assessable" in report["conclusion"]
    patients = [r for r in res if r["resourceType"] == "Patient"]
    assert len(patients) == 1 and patients[0]["gender"] == "female"
    obs = [r for r in res if r["resourceType"] == "Observation"]
    assert len(report["result"]) == len(obs)


def test_fhir_genotype_observations(bundle) -> None:
    res = _resources(bundle)
    genotypes = [r for r in res if IG + "genotype" in r.get("meta", {}).get("profile", [])]
    assert len(genotypes) == 2
    cyp2c19 = next(g for g in genotypes if "CYP2C19" in g["valueCodeableConcept"]["text"])
    assert _codes(cyp2c19) == {"84413-4"}
    gene = next(c for c in cyp2c19["component"] if c["code"]["coding"][0]["code"] == "48018-6")
    assert gene["valueCodeableConcept"]["coding"][0]["code"] == "HGNC:2621"
    assert len(cyp2c19["derivedFrom"]) == 2  # its two variants


def test_fhir_therapeutic_implications(bundle) -> None:
    res = _resources(bundle)
    ther = [r for r in res if PROFILES["therapeutic"] in r.get("meta", {}).get("profile", [])]
    assert len(ther) == 4
    for t in ther:
        assert t["code"]["coding"][0] == {
            "system": TBD_CODES,
            "code": "therapeutic-implication",
            "display": "Therapeutic Implication",
        }
        assert {"51963-7", "53040-2", "conclusion-string"} <= _component_codes(t)
        assert t["derivedFrom"]  # the genotype it follows from
    clop = next(
        t
        for t in ther
        if any(
            c.get("valueCodeableConcept", {}).get("text") == "clopidogrel" for c in t["component"]
        )
    )
    assert "93044-6" in _component_codes(clop)


def test_fhir_variant_observations(bundle) -> None:
    res = _resources(bundle)
    variants = [r for r in res if PROFILES["variant"] in r.get("meta", {}).get("profile", [])]
    assert len(variants) == 3  # two CYP2C19 + one BRCA1, de-duplicated
    v = next(x for x in variants if any(c.get("valueString") == "G" for c in x["component"]))
    assert _codes(v) == {"69548-6"}
    assert {
        "62374-4",
        "48013-7",
        "69547-8",
        "69551-0",
        "81254-5",
        "92822-6",
        "81252-9",
        "81290-9",
    } <= _component_codes(v)
    rng = next(c for c in v["component"] if c["code"]["coding"][0]["code"] == "81254-5")
    assert rng["valueRange"]["low"]["value"] == 94781859


def test_fhir_diagnostic_implication_for_other_findings(bundle) -> None:
    res = _resources(bundle)
    diag = [r for r in res if PROFILES["diagnostic"] in r.get("meta", {}).get("profile", [])]
    assert len(diag) == 2  # the unknown analysis' finding and the no-data 'rare' finding
    assert all(d["code"]["coding"][0]["code"] == "diagnostic-implication" for d in diag)
    assert any(d.get("derivedFrom") for d in diag)


def test_fhir_empty_result_and_presented_form() -> None:
    b = to_fhir(empty_result(), html="<p>x</p>")
    res = _resources(b)
    assert [r["resourceType"] for r in res] == ["DiagnosticReport", "Patient"]
    form = res[0]["presentedForm"][0]
    assert base64.b64decode(form["data"]) == b"<p>x</p>"


def test_refseq_accessions() -> None:
    assert refseq_accession("chr7", "GRCh38") == "NC_000007.14"
    assert refseq_accession("chr7", "GRCh37") == "NC_000007.13"
    assert refseq_accession("chrX", "GRCh38") == "NC_000023.11"
    assert refseq_accession("chrM", "GRCh38") == "NC_012920.1"
    assert refseq_accession("chrUn_KI270742v1", "GRCh38") is None


# ------------------------------------------------------------------------ PDF / render


def test_render_all_formats(tmp_path: Path) -> None:
    paths = render(full_result(), tmp_path / "out")
    assert set(paths) == {"html", "pdf", "json", "fhir"}
    assert paths["html"].name == "report.html" and paths["fhir"].name == "report.fhir.json"
    pdf = paths["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF")
    assert pdf_page_count(pdf) >= 5  # header+summary, pgx, rare, unknown analysis, rest
    assert from_json(paths["json"].read_text()) == full_result()
    fhir = json.loads(paths["fhir"].read_text())
    assert fhir["resourceType"] == "Bundle"
    assert "presentedForm" in fhir["entry"][0]["resource"]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_pdf_of_empty_result_has_pages() -> None:
    pdf = to_pdf(to_html(empty_result()))
    assert pdf.startswith(b"%PDF")
    assert pdf_page_count(pdf) >= 1


def test_pdf_refuses_external_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    opened: list[object] = []
    real_open = urllib.request.OpenerDirector.open

    def spy(self, url, *a, **kw):
        opened.append(url)
        return real_open(self, url, *a, **kw)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", spy)
    html = to_html(
        AnalysisResult(subject="S", manifest=manifest(), findings=(generic_finding(subject="S"),))
    )
    # a stylesheet link slipped into the HTML is not fetched (the fetcher refuses it)
    html = html.replace("</head>", '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>')
    assert to_pdf(html).startswith(b"%PDF")
    assert opened == []


def test_render_subset_and_unknown_format(tmp_path: Path) -> None:
    paths = render(empty_result(), tmp_path, formats=["json", "HTML"])
    assert set(paths) == {"json", "html"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.json", "report.html"]
    with pytest.raises(UsageError, match="docx"):
        render(empty_result(), tmp_path, formats=["docx"])
