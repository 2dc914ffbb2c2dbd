"""``genoma analyze --pgs``: the disease-risk section of the single-patient workflow.

Real data: one sample of pgsc_calc's CINECA synthetic chr22 VCF (GRCh37) scored with
pgsc_calc's PGS001229 chr22 test files. The scores must equal what ``genoma risk score``
gives for the same sample.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genoma.cli.main import app

from conftest import require_shared

runner = CliRunner()
SAMPLE = "HG00096_HG00096"
# One GRCh37 gene line (GENCODE v46lift37 CYP2D6) so the overview step has gene
# coordinates for GRCh37; the embedded gene table is GRCh38 only.
GFF = ("##gff-version 3\nchr22\tHAVANA\tgene\t42522501\t42526908\t.\t-\t.\t"
       "ID=ENSG00000100197.22;gene_id=ENSG00000100197.22;gene_type=protein_coding;"
       "gene_name=CYP2D6;hgnc_id=HGNC:2625\n")


@pytest.fixture
def grch37_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A GENOMA_HOME with ``gencode-grch37`` installed from a local mirror."""
    from genoma.kb import base

    home = tmp_path / "home"
    monkeypatch.setenv("GENOMA_HOME", str(home))
    monkeypatch.delenv("GENOMA_KB_MIRROR", raising=False)
    base.reset_cache()
    rel = base.get_source("gencode-grch37").releases()[0]
    mirror = tmp_path / "mirror"
    dest = mirror / urllib.parse.urlsplit(rel.url).path.lstrip("/")
    dest.parent.mkdir(parents=True)
    with gzip.open(dest, "wt") as fh:
        fh.write(GFF)
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    res = runner.invoke(app, ["kb", "install", "gencode-grch37", "--mirror", mirror.as_uri(),
                              "--sha256", digest])
    assert res.exit_code == 0, res.output
    yield home
    base.reset_cache()


def _data() -> Path:
    return require_shared("prs", "pgsc_calc")


def _analyze(vcf: Path, out: Path, *extra: str) -> object:
    return runner.invoke(app, ["analyze", str(vcf), "-s", SAMPLE, "--build", "GRCh37",
                               "-o", str(out), "--format", "json", *extra])


def test_analyze_pgs_scores_equal_risk_score(grch37_home: Path, tmp_path: Path) -> None:
    d = _data()
    vcf = d / "cineca_synthetic_subset.vcf.gz"
    files = [d / "PGS001229_22.txt", d / "scorefile_dominant_and_recessive.txt"]
    pgs_args = [a for f in files for a in ("--pgs", str(f))]

    res = _analyze(vcf, tmp_path / "report", *pgs_args, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["findings"]["risk"] == 2

    ref = runner.invoke(app, ["risk", "score", str(vcf), *pgs_args, "-s", SAMPLE,
                              "--target-build", "GRCh37", "-o", str(tmp_path / "risk")])
    assert ref.exit_code == 0, ref.output
    with open(tmp_path / "risk" / "scores.tsv", encoding="utf-8") as fh:
        expected = {r["pgs_id"]: r for r in csv.DictReader(fh, delimiter="\t")
                    if r["sample"] == SAMPLE}
    assert len(expected) == 2

    report = json.loads((tmp_path / "report" / "findings.json").read_text())
    risk = [f for f in report["findings"] if f["analysis"] == "risk"]
    assert {f["data"]["pgs_id"] for f in risk} == set(expected)
    for f in risk:
        want = expected[f["data"]["pgs_id"]]
        assert f["kind"] == "polygenic_score" and f["subject"] == SAMPLE
        assert f["data"]["sum"] == pytest.approx(float(want["sum"]), rel=1e-12)
        assert f["data"]["n_matched"] == int(want["n_matched"])
        assert f["data"]["interpretation"] == "relative, not absolute"
    # the two files weight differently: the scores must differ, not be one score twice
    sums = sorted(f["data"]["sum"] for f in risk)
    assert sums[0] != pytest.approx(sums[1])
    # report order: risk after pgx
    kinds = [f["analysis"] for f in report["findings"]]
    assert kinds.index("risk") > max(i for i, a in enumerate(kinds) if a == "pgx")

    manifest = json.loads((tmp_path / "report" / "manifest.json").read_text())
    pgs_inputs = [i for i in manifest["inputs"] if i["role"] == "pgs"]
    assert [Path(i["path"]).name for i in pgs_inputs] == [f.name for f in files]
    assert all(len(i["sha256"]) == 64 for i in pgs_inputs)
    assert set(manifest["parameters"]["pgs_licenses"]) == set(expected)
    assert "risk" in manifest["analyses"]


def test_analyze_without_pgs_has_no_risk(grch37_home: Path, tmp_path: Path) -> None:
    vcf = _data() / "cineca_synthetic_subset.vcf.gz"
    res = _analyze(vcf, tmp_path / "report")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "report" / "findings.json").read_text())
    assert report["findings"] and not [f for f in report["findings"]
                                       if f["analysis"] == "risk"]
    manifest = json.loads((tmp_path / "report" / "manifest.json").read_text())
    assert not [i for i in manifest["inputs"] if i["role"] == "pgs"]


@pytest.mark.parametrize(("scorefile", "message"), [
    ("customgrch38.txt", "GRCh38"),           # scoring file on the other build
    ("customgrch37.txt", "minimum overlap"),  # 0 of 2 variants in the chr22 target
])
def test_analyze_bad_scoring_file_exits_5(tmp_path: Path, scorefile: str, message: str) -> None:
    d = _data()
    out = tmp_path / "report"
    res = _analyze(d / "cineca_synthetic_subset.vcf.gz", out, "--pgs", str(d / scorefile))
    assert res.exit_code == 5, res.output
    assert message in res.output
    assert not out.exists()
