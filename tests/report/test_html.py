"""HTML report: structure, self-containment, escaping, empty inputs."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from _report_builders import empty_result, full_result, generic_finding, manifest

from genoma.model.findings import AnalysisResult, Finding, Limitation
from genoma.report import to_html
from genoma.report.html import build_context, data_rows


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
    # sorted by severity: red, yellow, green, grey
    assert [c for c, _ in rows] == ["red", "yellow", "green", "grey"]
    for colour, row in rows:
        # colour conveyed as text too, not only by CSS
        assert re.search(rf'badge-{colour}"[^>]*>.*?{colour}</span>', row, re.S)
    assert "clopidogrel" in rows[0][1] and "Strong" in rows[0][1]


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
