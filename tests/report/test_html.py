"""HTML report: structure, self-containment, escaping, empty inputs."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from _report_builders import (
    empty_result,
    full_result,
    generic_finding,
    manifest,
    pgx_findings,
)

from genoma.model.findings import AnalysisResult, Color, Confidence, Finding, Limitation
from genoma.report import to_html
from genoma.report.html import build_context, data_rows, is_normal_call
from genoma.report.jsonout import to_json


class _Collector(HTMLParser):
    """Collects tags with their attributes, and the ids, of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(html: str) -> _Collector:
    c = _Collector()
    c.feed(html)
    return c


def _section_ids(html: str) -> list[str]:
    return [a["id"] for t, a in _parse(html).tags if t in ("section", "footer") and a.get("id")]


@pytest.fixture(scope="module")
def html_full() -> str:
    return to_html(full_result())


def test_no_external_assets(html_full: str) -> None:
    tags = _parse(html_full).tags
    assert not [a for t, a in tags if t == "link"]
    assert not [a for t, a in tags if t == "script"]
    for t, a in tags:
        if t in ("img", "source", "iframe", "object", "embed", "use", "image"):
            pytest.fail(f"external-capable element <{t}> in report: {a}")
        # only <a href> may carry a URL; no src= anywhere
        assert "src" not in a, (t, a)
        if t != "a":
            for k, v in a.items():
                if k == "xmlns":  # a namespace name, never fetched
                    continue
                assert not (v or "").startswith(("http://", "https://", "//")), (t, a)
    assert "@import" not in html_full and "url(" not in html_full
    assert "@font-face" not in html_full


def test_evidence_links_kept_and_unsafe_urls_not_linked(html_full: str) -> None:
    hrefs = [a["href"] for t, a in _parse(html_full).tags if t == "a"]
    assert "https://www.ncbi.nlm.nih.gov/clinvar/variation/12345/" in hrefs
    assert not [h for h in hrefs if h and h.lower().startswith("javascript:")]


def test_section_order_and_always_present_sections(html_full: str) -> None:
    ids = _section_ids(html_full)
    assert ids[:2] == ["provenance", "summary"]
    # pgx first among analyses, then the known 'rare', then unknown 'telepathy'
    titles = re.findall(r'<h2 id="analysis-\d+-h">([^<]+)<', html_full)
    assert [t.strip() for t in titles] == [
        "Pharmacogenomics",
        "Rare disease diagnosis",
        "Telepathy",
    ]
    assert ids[-3:] == ["phenotypes", "limitations", "how-to-read"]


def test_provenance_content(html_full: str) -> None:
    assert "ab" * 32 in html_full  # input sha256
    assert "pypgx-cpic" in html_full and "MIT" in html_full
    assert "min_depth" in html_full and "GRCh38" in html_full


def test_pgx_drug_table_has_every_colour_with_text(html_full: str) -> None:
    table = html_full.split('<table class="drugs fixed">')[1].split("</table>")[0]
    rows = re.findall(r'<tr class="light-(\w+)">(.*?)</tr>', table, re.S)
    # sorted by severity: red, yellow, green; grey rows are folded out of the main table
    assert [c for c, _ in rows] == ["red", "yellow", "green"]
    for colour, row in rows:
        # colour conveyed as text too, not only by CSS
        assert re.search(rf'badge-{colour}"[^>]*>.*?{colour}</span>', row, re.S)
    assert "clopidogrel" in rows[0][1] and "Strong" in rows[0][1]
    assert "codeine" not in table


def _grey_block(html: str) -> str:
    return html.split('<div class="grey-drugs"')[1].split("</div>")[0]


def test_grey_recommendations_folded_but_present(html_full: str) -> None:
    block = _grey_block(html_full)
    compact, full = block.split("<details")
    # compact paragraph: reason text once, then drug (genes)
    assert "No recommendation: CYP2D6 not assessable." in compact
    assert re.search(r'grey-drug">codeine</span> <span class="muted">\(CYP2D6\)', compact)
    # full row kept in a collapsed <details> (not open), with guideline and evidence
    assert not re.match(r"[^>]*\bopen\b", full)
    assert "codeine" in full and "CPIC 2022" in full and "PA166104948" in full
    # and in the machine-readable output
    doc = to_json(full_result())
    assert "codeine" in json.dumps(doc)


def test_grey_folding_groups_by_text_and_keeps_red_in_main_table() -> None:
    base = pgx_findings()
    extra = [
        f.model_copy(
            update={
                "recommendations": (
                    f.recommendations[0].model_copy(update={"drug": drug, "genes": (gene,)}),
                )
            }
        )
        for f in base
        if f.kind == "drug_recommendation" and f.color.value == "grey"
        for drug, gene in (("tramadol", "CYP2D6"), ("<i>evil</i>", "CYP2D6"))
    ]
    res = AnalysisResult(subject="NA12878", findings=[*base, *extra], manifest=manifest())
    html = to_html(res)
    table = html.split('<table class="drugs fixed">')[1].split("</table>")[0]
    assert "clopidogrel" in table and "tramadol" not in table
    block = _grey_block(html)
    compact = block.split("<details")[0]
    assert "3 drugs without a recommendation" in block
    assert compact.count("No recommendation: CYP2D6 not assessable.") == 1  # one group
    for drug in ("codeine", "tramadol", "&lt;i&gt;evil&lt;/i&gt;"):
        assert drug in compact
    assert "<i>evil</i>" not in html
    ctx = build_context(res)["sections"][0]["pgx"]
    assert [len(g["drugs"]) for g in ctx["grey_groups"]] == [3]


def test_only_grey_drugs_still_rendered() -> None:
    only_grey = [
        f for f in pgx_findings() if f.kind != "drug_recommendation" or f.color.value == "grey"
    ]
    html = to_html(AnalysisResult(subject="NA12878", findings=only_grey, manifest=manifest()))
    assert '<table class="drugs fixed">' not in html
    assert "No drug has a red, yellow or green recommendation" in html
    assert "codeine" in _grey_block(html)


def _diplotype(gene: str, **kw) -> Finding:
    data = {
        "diplotype": "*1/*1",
        "phenotype": "Normal Metabolizer",
        "activity_score": 2.0,
        "status": "called",
        "missing_positions": [],
        "candidates": [],
        "notes": [],
        "n_positions": 5,
        "n_positions_in_vcf": 5,
        "outside_call": False,
    }
    data.update(kw.pop("data", {}))
    base = dict(
        analysis="pgx",
        analysis_version="0.1.0",
        kind="diplotype",
        title=f"{gene} {data['diplotype']}",
        subject="NA12878",
        genes=(gene,),
        confidence=Confidence.HIGH,
        color=Color.GREEN,
        data=data,
    )
    base.update(kw)
    return Finding(**base)


@pytest.mark.parametrize(
    ("kw", "compact"),
    [
        ({}, True),
        ({"data": {"diplotype": "Reference/Reference", "phenotype": "n/a"}}, True),
        ({"data": {"phenotype": "Intermediate Metabolizer"}}, False),
        ({"data": {"diplotype": "*1/*2", "phenotype": "n/a"}}, False),
        ({"data": {"status": "not_callable"}}, False),
        ({"data": {"outside_call": True}}, False),
        ({"data": {"missing_positions": ["chr1:5"]}}, False),
        ({"data": {"candidates": ["*1/*1", "*1/*4"]}}, False),
        ({"confidence": Confidence.LOW}, False),
        ({"color": Color.YELLOW}, False),
        ({"limitations": (Limitation(text="x", code="X"),)}, False),
    ],
)
def test_is_normal_call(kw: dict, compact: bool) -> None:
    assert is_normal_call(_diplotype("TPMT", **kw)) is compact


def test_normal_genes_compact_rows_others_full_cards() -> None:
    normal = _diplotype("TPMT")
    odd = _diplotype("NUDT15", data={"phenotype": "Poor Metabolizer", "diplotype": "*3/*3"})
    res = AnalysisResult(
        subject="NA12878", findings=[normal, odd, *pgx_findings()], manifest=manifest()
    )
    html = to_html(res)
    compact = html.split('<table class="genes-normal small fixed">')[1].split("</table>")[0]
    assert "TPMT" in compact and "5/5" in compact and "Normal Metabolizer" in compact
    assert "NUDT15" not in compact and "CYP2C19" not in compact
    cards = re.findall(
        r'<article class="card card-gene[^"]*" id="[^"]+"[^>]*>\s*<h3[^>]*>(\w+)', html
    )
    assert sorted(cards) == ["CYP2C19", "CYP2D6", "NUDT15"]
    # every gene stays in the overview table
    overview = html.split('<table class="genes fixed">')[1].split("</table>")[0]
    for gene in ("TPMT", "NUDT15", "CYP2C19", "CYP2D6"):
        assert gene in overview


def test_diplotype_table_and_data(html_full: str) -> None:
    genes = html_full.split('<table class="genes fixed">')[1].split("</table>")[0]
    assert "CYP2C19" in genes and "*1/*2" in genes and "Intermediate Metabolizer" in genes
    assert "not assessable" in genes  # CYP2D6 row with no data renders
    assert "Matched positions" in html_full and "94775367" in html_full


def test_generic_card_for_unknown_analysis(html_full: str) -> None:
    assert "A finding from an analysis the renderer has never seen" in html_full
    assert "chr17:43045712:T:C" in html_full
    assert "Refer to genetic counselling." in html_full
    # list-of-records data becomes a nested table
    assert "Score table" in html_full and '<th scope="col">Model</th>' in html_full


def test_limitations_deduplicated(html_full: str) -> None:
    section = html_full.split('id="limitations"')[1].split("</section>")[0]
    assert section.count("CYP2D6 copy number not assessable from VCF") == 1
    assert "whole run; pgx: CYP2D6 not called" in section
    for text in (
        "Only SNVs and small indels",
        "CYP2C19 structural variants",
        "Only coding regions were assessed.",
    ):
        assert text in section


def test_phenotypes_from_patient_json(html_full: str) -> None:
    section = html_full.split('id="phenotypes"')[1].split("</section>")[0]
    observed, excluded = section.split("Excluded features")
    assert "HP:0001250" in observed and "Seizure" in observed
    assert "HP:0000365" in excluded and "Hearing impairment" in excluded
    assert "HP:0000365" not in observed


def test_user_strings_are_escaped() -> None:
    evil = "<script>alert('x')</script>"
    f = generic_finding(
        title=evil,
        summary=f"sum {evil}",
        genes=("<b>G</b>",),
        data={"k<i>": evil},
        limitations=(Limitation(text=evil),),
    )
    r = AnalysisResult(
        subject="<img src=x>",
        findings=(f,),
        manifest=manifest(),
        patient={"id": "<img src=x onerror=1>", "features": [{"id": "HP:0000001", "label": evil}]},
    )
    html = to_html(r)
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html and "<b>G</b>" not in html and "<i>" not in html


def test_empty_result_renders_gracefully() -> None:
    html = to_html(empty_result())
    ids = _section_ids(html)
    assert {"provenance", "summary", "phenotypes", "limitations", "how-to-read"} <= set(ids)
    assert "No findings were reported" in html
    assert "No specific limitation was recorded" in html
    assert "No clinical information" in html
    assert "No input file was recorded" in html


def test_analysis_in_manifest_without_findings_gets_empty_section() -> None:
    r = AnalysisResult(
        subject="S",
        manifest=manifest(),
        findings=(
            Finding(
                analysis="pgx",
                analysis_version="0.1.0",
                kind="diplotype",
                title="x",
                subject="S",
                genes=("CYP2C9",),
            ),
        ),
    )
    html = to_html(r)
    rare = html.split('class="major analysis analysis-rare"')[1].split("</section>")[0]
    assert "ran but reported no findings" in rare
    # pgx without drug recommendations
    assert "No drug recommendation was reported." in html


def test_data_rows_truncates_long_lists() -> None:
    rows = data_rows({"positions": list(range(100)), "flag": True, "none": None})
    by_key = {r["key"]: r for r in rows}
    assert by_key["positions"]["text"].endswith("… 70 more")
    assert by_key["flag"]["text"] == "yes"
    assert by_key["none"]["text"] == "—"


def test_context_counts_colours() -> None:
    ctx = build_context(full_result())
    assert ctx["colors"] == {"red": 1, "yellow": 2, "green": 1, "grey": 4}
    assert ctx["n_findings"] == 8


def test_not_callable_genes_are_compact_rows_with_their_reason() -> None:
    from genoma.model.findings import Confidence, Finding, Limitation
    from genoma.report.html import _pgx_section

    reason = "the VCF has no record in the ABCB1 region: none of its 3 positions assessed"
    f = Finding(analysis="pgx", analysis_version="0", kind="diplotype", title="ABCB1 not callable",
                subject="S", genes=("ABCB1",), confidence=Confidence.NOT_ASSESSABLE,
                limitations=(Limitation(text=reason),),
                data={"gene": "ABCB1", "diplotype": None, "phenotype": "Indeterminate",
                      "status": "not_callable"})
    sec = _pgx_section([f], "t")
    assert [g["gene"] for g in sec["not_callable_genes"]] == ["ABCB1"]
    assert not sec["gene_cards"]
    assert reason in sec["not_callable_genes"][0]["limitations"]
