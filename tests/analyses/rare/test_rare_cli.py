"""``genoma rare`` through the CLI runner (a throwaway Typer app with the command)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from genoma.cli.rare import register
from genoma.io.phenopacket import read_phenopacket, write_phenopacket
from genoma.model.subject import Patient, PhenotypicFeature

CONTRACT = ["rank", "disease_id", "disease_name", "gene_symbol", "score", "variants"]

HPOA = """#version: 2099-01-01
database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier\taspect\tbiocuration
OMIM:616873\tImmunodeficiency, common variable, 13\t\tHP:0010976\tPMID:1\tPCS\t\t\t\t\tP\tx
OMIM:616873\tImmunodeficiency, common variable, 13\t\tHP:0004315\tPMID:1\tPCS\t\t\t\t\tP\tx
OMIM:616873\tImmunodeficiency, common variable, 13\t\tHP:0000006\tPMID:1\tPCS\t\t\t\t\tI\tx
OMIM:251200\tMicrocephaly 1\t\tHP:0000252\tPMID:1\tPCS\t\tHP:0040280\t\t\tP\tx
OMIM:251200\tMicrocephaly 1\t\tHP:0001249\tPMID:1\tPCS\t\t\t\t\tP\tx
OMIM:251200\tMicrocephaly 1\t\tHP:0000007\tPMID:1\tPCS\t\t\t\t\tI\tx
OMIM:999999\tSeizure disorder\t\tHP:0001250\tPMID:1\tPCS\t\t\t\t\tP\tx
"""
G2P = """ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id
1\tIKZF1\tHP:0010976\tx\t-\tOMIM:616873
2\tMCPH1\tHP:0000252\tx\t-\tOMIM:251200
3\tSCN1A\tHP:0001250\tx\t-\tOMIM:999999
"""
VCF = """##fileformat=VCFv4.2
##contig=<ID=chr7,length=159345973>
##contig=<ID=chr8,length=145138636>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
chr7\t50382602\t.\tC\tT\t50\tPASS\t.\tGT\t0/1
chr8\t6400000\t.\tA\tG\t50\tPASS\t.\tGT\t0/0
"""


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _cb() -> None:
        pass

    register(app)
    return app


def _invoke(*args: str):
    return CliRunner().invoke(_app(), ["rare", *args])


@pytest.fixture
def ann(tmp_path: Path) -> Path:
    d = tmp_path / "hpoann"
    d.mkdir()
    (d / "phenotype.hpoa").write_text(HPOA)
    (d / "genes_to_phenotype.txt").write_text(G2P)
    return d


def _packet(tmp_path: Path, *terms: str, excluded: tuple[str, ...] = ()) -> Path:
    feats = [PhenotypicFeature(id=t) for t in terms]
    feats += [PhenotypicFeature(id=t, excluded=True) for t in excluded]
    return write_phenopacket(Patient(id="S1", sex="MALE", features=tuple(feats)),
                             tmp_path / "p.json")


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "rare.tsv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_vcf_run_writes_contract_and_interpretation(tmp_path, ann):
    p = _packet(tmp_path, "HP:0010976", "HP:0004315", excluded=("HP:0000252",))
    (tmp_path / "x.vcf").write_text(VCF)
    out = tmp_path / "out"
    r = _invoke("--phenopacket", str(p), "--vcf", str(tmp_path / "x.vcf"), "-o", str(out),
                "--hpo-annotations", str(ann), "--json", "--build", "GRCh38")
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    assert list(rows[0])[:6] == CONTRACT
    assert (rows[0]["disease_id"], rows[0]["gene_symbol"], rows[0]["variants"]) == (
        "OMIM:616873", "IKZF1", "chr7:50382602:C:T")
    assert [int(x["rank"]) for x in rows] == list(range(1, len(rows) + 1))
    scores = [float(x["score"]) for x in rows]
    assert scores == sorted(scores, reverse=True)
    # the hom-ref call at chr8 never makes its gene a carrier
    assert all("chr8:6400000" not in x["variants"] for x in rows)
    summary = json.loads(r.stdout)  # stdout only: logs go to stderr
    assert summary["best"]["gene_symbol"] == "IKZF1"
    findings = json.loads((out / "findings.json").read_text())
    assert findings["findings"][0]["kind"] == "diagnosis"
    assert "RARE_NO_CONSEQUENCES" in {x["code"] for x in findings["limitations"]}
    # the interpretation phenopacket parses with the official schema
    pt = read_phenopacket(out / "interpretation.phenopacket.json")
    assert pt.id == "S1"
    doc = json.loads((out / "interpretation.phenopacket.json").read_text())
    assert doc["interpretations"][0]["diagnosis"]["disease"]["id"] == "OMIM:616873"
    assert json.loads((out / "manifest.json").read_text())["status"] == "ok"


def test_phenotype_only_gene_list(tmp_path, ann):
    p = _packet(tmp_path, "HP:0000252", "HP:0001249")
    genes = tmp_path / "genes.txt"
    genes.write_text("# candidates\nSCN1A\nMCPH1, IKZF1\nNOTAGENE\n")
    out = tmp_path / "out"
    r = _invoke("--phenopacket", str(p), "--phenotype-only", "--genes", str(genes),
                "-o", str(out), "--hpo-annotations", str(ann))
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    assert rows[0]["gene_symbol"] == "MCPH1"
    assert {x["gene_symbol"] for x in rows} == {"SCN1A", "MCPH1", "IKZF1", "NOTAGENE"}
    assert rows[-1]["gene_symbol"] == "NOTAGENE" and rows[-1]["disease_id"] == ""


def test_hpo3_only_knowledge_obsolete_term(tmp_path, monkeypatch):
    monkeypatch.delenv("GENOMA_HPO_ANNOTATIONS", raising=False)
    p = _packet(tmp_path, "HP:0000057", "HP:0000252", "HP:0001249", "HP:9999999")
    genes = tmp_path / "g.txt"
    genes.write_text("MCPH1\nIKZF1\n")
    out = tmp_path / "out"
    r = _invoke("--phenopacket", str(p), "--phenotype-only", "--genes", str(genes),
                "-o", str(out))
    assert r.exit_code == 0, r.output
    rows = _rows(out)
    assert rows[0]["gene_symbol"] == "MCPH1"
    lims = {x["code"]: x["text"] for x in
            json.loads((out / "findings.json").read_text())["limitations"]}
    assert "HP:0000057 → HP:0008665" in lims["RARE_HPO_REPLACED"]
    assert "HP:9999999" in lims["RARE_HPO_UNKNOWN"]
    assert "RARE_NO_GENE_DISEASE_LINKS" in lims


def test_bad_inputs(tmp_path, ann):
    empty = write_phenopacket(Patient(id="S1"), tmp_path / "empty.json")
    r = _invoke("--phenopacket", str(empty), "--phenotype-only", "-o", str(tmp_path / "o1"),
                "--hpo-annotations", str(ann))
    assert r.exit_code == 4
    assert "no observed phenotypic feature" in r.output
    p = _packet(tmp_path, "HP:0000252")
    (tmp_path / "x.vcf").write_text(VCF)
    r = _invoke("--phenopacket", str(p), "--phenotype-only", "--vcf", str(tmp_path / "x.vcf"),
                "-o", str(tmp_path / "o2"), "--hpo-annotations", str(ann))
    assert r.exit_code == 2
    r = _invoke("--phenopacket", str(p), "-o", str(tmp_path / "o3"),
                "--hpo-annotations", str(ann))
    assert r.exit_code == 2
    r = _invoke("--phenopacket", str(tmp_path / "missing.json"), "--phenotype-only",
                "-o", str(tmp_path / "o4"), "--hpo-annotations", str(ann))
    assert r.exit_code == 3


def test_consequences_with_fasta_and_transcripts(tmp_path):
    from conftest import require_shared

    fasta = require_shared("reference", "GRCh38", "chr21.fa.gz")
    gff = require_shared("annotation", "transcripts", "ensembl_vep_test.chr21_full.gff3.gz")
    d = tmp_path / "ann"
    d.mkdir()
    (d / "phenotype.hpoa").write_text(
        HPOA.splitlines()[0] + "\n" + HPOA.splitlines()[1] + "\n"
        "OMIM:104300\tAlzheimer disease\t\tHP:0000726\tPMID:1\tPCS\t\t\t\t\tP\tx\n"
        "OMIM:104300\tAlzheimer disease\t\tHP:0000006\tPMID:1\tPCS\t\t\t\t\tI\tx\n"
        "OMIM:999999\tSeizure disorder\t\tHP:0001250\tPMID:1\tPCS\t\t\t\t\tP\tx\n")
    (d / "genes_to_phenotype.txt").write_text(
        G2P.splitlines()[0] + "\n1\tAPP\tHP:0000726\tx\t-\tOMIM:104300\n"
        "3\tSCN1A\tHP:0001250\tx\t-\tOMIM:999999\n")
    vcf = tmp_path / "a.vcf"
    vcf.write_text(VCF.splitlines()[0] + "\n##contig=<ID=chr21,length=46709983>\n"
                   + "\n".join(VCF.splitlines()[3:5]) + "\n"
                   "chr21\t25881698\t.\tT\tC\t50\tPASS\t.\tGT\t0/1\n")
    p = _packet(tmp_path, "HP:0000726")
    out = tmp_path / "out"
    r = _invoke("--phenopacket", str(p), "--vcf", str(vcf), "-o", str(out), "--build",
                "GRCh38", "--hpo-annotations", str(d), "--fasta", str(fasta),
                "--transcripts", str(gff))
    assert r.exit_code == 0, r.output
    assert _rows(out)[0]["gene_symbol"] == "APP"
    doc = json.loads((out / "findings.json").read_text())
    v = doc["findings"][0]["data"]["variants"][0]
    assert v["impact"] == "MODERATE" and "missense_variant" in v["consequence"]
    assert "RARE_NO_CONSEQUENCES" not in {x["code"] for x in doc["limitations"]}


def _trio_vcf(path: Path, father: tuple[str, str], mother: tuple[str, str]) -> Path:
    head = ("##fileformat=VCFv4.2\n##contig=<ID=chr8,length=145138636>\n"
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tDAD\tMUM\n")
    body = "".join(f"chr8\t{pos}\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\t{f}\t{m}\n"
                   for pos, f, m in zip((6500000, 6600000), father, mother, strict=True))
    path.write_text(head + body)
    return path


@pytest.mark.parametrize(("father", "mother", "compound"), [
    (("0/1", "0/1"), ("0/0", "0/0"), False),  # both from the father: cis
    (("0/1", "0/0"), ("0/0", "0/1"), True),  # one from each parent: trans
])
def test_trio_compound_heterozygosity(tmp_path, ann, father, mother, compound):
    p = _packet(tmp_path, "HP:0000252", "HP:0001249")
    vcf = _trio_vcf(tmp_path / "trio.vcf", father, mother)
    ped = tmp_path / "fam.ped"
    ped.write_text("F S1 DAD MUM 1 2\nF DAD 0 0 1 1\nF MUM 0 0 2 1\n")
    out = tmp_path / "out"
    r = _invoke("--phenopacket", str(p), "--vcf", str(vcf), "--ped", str(ped), "-s", "S1",
                "-o", str(out), "--build", "GRCh38", "--hpo-annotations", str(ann))
    assert r.exit_code == 0, r.output
    row = next(x for x in _rows(out) if x["gene_symbol"] == "MCPH1")
    assert row["mode_used"] == "AR"
    if compound:
        assert row["genotype"] == "compound heterozygous"
        assert row["variants"] == "chr8:6500000:A:G;chr8:6600000:A:G"
        assert float(row["genotype_log10_lr"]) > -0.7
    else:
        assert row["genotype"].startswith("one heterozygous variant only")
        assert float(row["genotype_log10_lr"]) == pytest.approx(-0.69897, abs=1e-4)


def test_frequencies_remove_common_alleles(tmp_path, ann):
    """--frequencies: an allele common in the population table is not a candidate."""
    p = _packet(tmp_path, "HP:0010976", "HP:0004315")
    (tmp_path / "x.vcf").write_text(VCF)
    sites = tmp_path / "sites.vcf"
    sites.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr7,length=159345973>\n"
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="x">\n'
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="x">\n'
        '##INFO=<ID=AF,Number=A,Type=Float,Description="x">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr7\t50382602\t.\tC\tT\t.\tPASS\tAC=3000;AN=10000;AF=0.3\n")
    base, common = tmp_path / "base", tmp_path / "common"
    common_args = ["--phenopacket", str(p), "--vcf", str(tmp_path / "x.vcf"),
                   "--hpo-annotations", str(ann), "--build", "GRCh38"]
    assert _invoke(*common_args, "-o", str(base)).exit_code == 0
    r = _invoke(*common_args, "-o", str(common), "--frequencies", str(sites))
    assert r.exit_code == 0, r.output
    assert any("chr7:50382602:C:T" in x["variants"] for x in _rows(base))
    assert all("chr7:50382602:C:T" not in x["variants"] for x in _rows(common))
    roles = {i["role"] for i in json.loads((common / "manifest.json").read_text())["inputs"]}
    assert "frequencies" in roles
