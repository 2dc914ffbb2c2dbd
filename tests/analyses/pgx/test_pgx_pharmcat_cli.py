"""``genoma pgx VCF --definitions pharmcat``: installed PharmCAT definitions via the CLI."""

from __future__ import annotations

import json
import urllib.parse
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from genoma.cli.main import app

from conftest import require_shared

runner = CliRunner()
CONTIGS = "##contig=<ID=chr10,length=133797422>\n##contig=<ID=chr6,length=170805979>\n"
# GRCh38: CYP2C19 *2 (94781859 G>A, with 94842866 A>G of the *1 background), *17
# (94761900 C>T); CYP2C9 *3 (94981296 A>C)
RECORDS = [
    ("chr10", 94761900, "C", "T", ["0|1", "0|0"]),
    ("chr10", 94781859, "G", "A", ["1|0", "0|0"]),
    ("chr10", 94775367, "A", "G", ["1|0", "0|0"]),
    ("chr10", 94842866, "A", "G", ["1|1", "0|0"]),
    ("chr10", 94981296, "A", "C", ["0|1", "0|0"]),
]


def _vcf(path: Path, contigs: str = CONTIGS) -> Path:
    lines = ["##fileformat=VCFv4.2\n", contigs,
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"]
    lines += [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t" + "\t".join(g) + "\n"
              for c, p, r, a, g in RECORDS]
    path.write_text("".join(lines))
    return path


@pytest.fixture
def installed(tmp_path, monkeypatch):
    from genoma.kb import base
    from genoma.kb import install as kbinstall

    shared = require_shared("pgx", "pharmcat")
    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GENOMA_KB_MIRROR", raising=False)
    base.reset_cache()
    rel = base.get_source("pharmcat").releases()[0]
    root = tmp_path / "mirror"
    dest = root / urllib.parse.urlsplit(rel.url).path.lstrip("/")
    dest.parent.mkdir(parents=True)
    with zipfile.ZipFile(dest, "w") as z:
        for p in (shared / "definitions").glob("*.json"):
            z.write(p, f"org/pharmgkb/pharmcat/definition/alleles/{p.name}")
        for p in (shared / "phenotype").glob("*.json"):
            z.write(p, f"org/pharmgkb/pharmcat/phenotype/{p.name}")
    kbinstall.install("pharmcat", mirror=root.as_uri())
    return tmp_path


def test_pgx_with_pharmcat_definitions(installed):
    vcf = _vcf(installed / "in.vcf")
    out = installed / "out"
    res = runner.invoke(app, ["pgx", str(vcf), "--definitions", "pharmcat", "--genes",
                              "CYP2C19,CYP2C9", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    calls = pd.read_csv(out / "pgx.tsv", sep="\t", keep_default_na=False, dtype=str)
    assert list(calls.columns[:6]) == ["sample", "gene", "diplotype", "phenotype",
                                       "activity_score", "status"]
    got = {(r.sample, r.gene): (r.diplotype, r.phenotype) for r in calls.itertuples()}
    assert got[("S1", "CYP2C19")] == ("*2/*17", "Intermediate Metabolizer")
    assert got[("S2", "CYP2C19")] == ("*38/*38", "Normal Metabolizer")
    assert got[("S1", "CYP2C9")] == ("*1/*3", "Intermediate Metabolizer")
    assert calls["knowledge_version"].str.contains("ClinPGx 2025-11-05").all()
    recs = pd.read_csv(out / "recommendations.tsv", sep="\t", keep_default_na=False, dtype=str)
    assert {"sample", "drug", "genes", "recommendation", "classification", "color"} <= set(
        recs.columns)
    assert "clopidogrel" in set(recs["drug"])
    manifest = json.loads((out / "manifest.json").read_text())
    names = {k["name"]: k["version"] for k in manifest["knowledge"]}
    assert "ClinPGx 2025-11-05" in names["pharmcat"] and "pgx" in names


def test_pharmcat_definitions_refuse_grch37(installed):
    vcf = _vcf(installed / "in.vcf", contigs="")
    res = runner.invoke(app, ["pgx", str(vcf), "--definitions", "pharmcat", "--build",
                              "GRCh37", "-o", str(installed / "o37")])
    assert res.exit_code == 5, res.output


def test_pharmcat_not_installed_is_exit_6(tmp_path, monkeypatch):
    from genoma.kb import base

    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "empty-home"))
    base.reset_cache()
    vcf = _vcf(tmp_path / "in.vcf")
    res = runner.invoke(app, ["pgx", str(vcf), "--definitions", "pharmcat", "-o",
                              str(tmp_path / "o")])
    assert res.exit_code == 6, res.output
    res = runner.invoke(app, ["pgx", str(vcf), "--definitions", "nope", "-o",
                              str(tmp_path / "o2")])
    assert res.exit_code == 2, res.output
