"""`genoma annotate` with ClinVar, frequencies, scores and manual criteria (hand-made world)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pysam
import pytest
import typer
from test_consequence import GFF, _genome  # the hand-made transcripts TP (+) and TM (-)
from typer.testing import CliRunner

from genoma.annotate.csq import CSQ_FIELDS
from genoma.annotate.evidence import EVIDENCE_FIELDS
from genoma.cli.annotate import register


def bgzip_index(plain: Path, preset: str | None = "vcf", **kw) -> Path:
    gz = plain.with_name(plain.name + ".gz")
    pysam.tabix_compress(str(plain), str(gz), force=True)
    pysam.tabix_index(str(gz), preset=preset, force=True, **kw)
    return gz


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("acmg")
    g = _genome()
    fa = d / "ref.fa"
    fa.write_text(">chr1\n" + "\n".join(g[i:i + 60] for i in range(0, len(g), 60)) + "\n")
    pysam.faidx(str(fa))
    (d / "tx.gff3").write_text(GFF)
    # TP: CDS 151..; codon 2 GCT (154-156), codon 3 TGG (157-159), codon 5 AAA (163-165)
    assert g[153:156] == "GCT" and g[156:159] == "TGG" and g[162:165] == "AAA"
    hdr = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=8000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    (d / "in.vcf").write_text(hdr + "".join(f"chr1\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n" for p, r, a in [
        (154, "G", "C"),   # p.Ala2Pro: PM5 (Ala2Gly pathogenic), REVEL 0.95 → PP3_Strong
        (156, "T", "C"),   # p.Ala2= : common → BA1, BP7
        (159, "G", "A"),   # p.Trp3Ter: PVS1 (NMD), absent → PM2_Supporting; manual PS3
        (165, "A", "C"),   # p.Lys5Asn: PS1 (165 A>T, same Lys5Asn, pathogenic)
    ]))
    cv = d / "clinvar.vcf"
    cv.write_text(
        "##fileformat=VCFv4.1\n##fileDate=2025-01-01\n##reference=GRCh38\n"
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="x">\n'
        '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="x">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t155\t101\tC\tG\t.\t.\tCLNSIG=Likely_pathogenic;CLNREVSTAT=criteria_provided,_multiple_submitters,_no_conflicts\n"
        "chr1\t159\t102\tG\tA\t.\t.\tCLNSIG=Pathogenic;CLNREVSTAT=criteria_provided,_single_submitter\n"
        "chr1\t165\t103\tA\tT\t.\t.\tCLNSIG=Pathogenic;CLNREVSTAT=criteria_provided,_single_submitter\n")
    fr = d / "sites.vcf"
    fr.write_text(
        "##fileformat=VCFv4.2\n"
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="x">\n'
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="x">\n'
        '##INFO=<ID=AF,Number=A,Type=Float,Description="x">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t154\t.\tG\tC\t.\tPASS\tAC=1;AN=100000;AF=0.00001\n"
        "chr1\t156\t.\tT\tC\t.\tPASS\tAC=3000;AN=10000;AF=0.3\n")
    sc = d / "revel.tsv"
    sc.write_text("#chr\tpos\tref\talt\tREVEL\nchr1\t154\tG\tC\t0.95\nchr1\t165\tA\tC\t0.5\n")
    crit = d / "criteria.tsv"
    crit.write_text("# manual evidence\nchr1\t159\tG\tA\tPS3\tloss of function in assay X\n")
    return {"dir": d, "vcf": d / "in.vcf", "fasta": fa, "gff": d / "tx.gff3",
            "clinvar": bgzip_index(cv), "freq": bgzip_index(fr),
            "scores": bgzip_index(sc, None, seq_col=0, start_col=1, end_col=1, meta_char="#"),
            "criteria": crit}


def run(args: list[str]):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    return CliRunner().invoke(app, ["annotate", *args])


def test_annotate_with_evidence(files, tmp_path):
    out = tmp_path / "out.vcf.gz"
    tsv = tmp_path / "acmg.tsv"
    fnd = tmp_path / "findings.json"
    res = run([str(files["vcf"]), "--fasta", str(files["fasta"]), "--transcripts", str(files["gff"]),
               "-o", str(out), "--clinvar", str(files["clinvar"]), "--frequencies", str(files["freq"]),
               "--scores", f"{files['scores']}:REVEL", "--criteria", str(files["criteria"]),
               "--tsv", str(tsv), "--findings", str(fnd), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[res.stdout.index("{"):])
    assert summary["acmg_evaluated"] == 4
    with gzip.open(out, "rt") as fh:
        text = fh.read()
    fmt = text.split("Format: ")[1].split('"')[0].split("|")
    assert fmt == CSQ_FIELDS + EVIDENCE_FIELDS  # appended at the end, nothing reordered
    rows = {int(r["POS"]): r for r in csv.DictReader(open(tsv), delimiter="\t")}
    assert rows[154]["ACMG_CRITERIA"] == "PM5,PP3_Strong"
    assert rows[156]["ACMG_CRITERIA"] == "BA1,BP7" and rows[156]["ACMG_CLASS"] == "Benign"
    assert rows[159]["ACMG_CRITERIA"] == "PVS1,PS3,PM2_Supporting"
    assert rows[159]["ACMG_CLASS"] == "Pathogenic" and rows[159]["ACMG_POINTS"] == "13"
    assert rows[159]["CLIN_SIG"] == "Pathogenic" and rows[159]["CLINVAR_STARS"] == "1"
    assert "assay X" in rows[159]["ACMG_REASONS"]
    assert rows[165]["ACMG_CRITERIA"].startswith("PS1") and "103" in rows[165]["ACMG_REASONS"]
    # CSQ entry of the picked transcript carries the same class
    rec = next(ln for ln in text.splitlines() if ln.startswith("chr1\t159"))
    entry = next(e for e in rec.split("CSQ=")[1].split(",") if e.split("|")[6] == "TP")
    f = dict(zip(fmt, entry.split("|"), strict=True))
    assert f["ACMG_CLASS"] == "Pathogenic" and f["ACMG_CRITERIA"] == "PVS1&PS3&PM2_Supporting"
    assert f["CLINVAR_ID"] == "102"
    found = json.loads(fnd.read_text())
    # PM5 + PP3_Strong: likely pathogenic by both systems (PP3_Strong counts as strong)
    assert rows[154]["ACMG_CLASS"] == "Likely_pathogenic" and rows[154]["ACMG_POINTS_CLASS"] == "Likely_pathogenic"
    by_pos = {x["variants"][0]["pos"]: x for x in found}
    assert set(by_pos) == {154, 159}
    assert by_pos[159]["data"]["richards"] == "Pathogenic" and by_pos[159]["genes"] == ["GENEP"]


def test_build_mismatch_and_bad_criteria(files, tmp_path):
    base = [str(files["vcf"]), "--fasta", str(files["fasta"]), "--transcripts", str(files["gff"])]
    res = run([*base, "-o", str(tmp_path / "o.vcf.gz"), "--clinvar", str(files["clinvar"]), "--build", "GRCh37"])
    assert res.exit_code == 5
    bad = tmp_path / "bad.tsv"
    bad.write_text("chr1\t159\tG\tA\tPS9_Huge\n")
    res = run([*base, "-o", str(tmp_path / "o2.vcf.gz"), "--criteria", str(bad)])
    assert res.exit_code == 4 and "bad.tsv" in res.output
    # without evidence options the CSQ format is unchanged
    out = tmp_path / "plain.vcf.gz"
    assert run([*base, "-o", str(out)]).exit_code == 0
    with gzip.open(out, "rt") as fh:
        assert "Format: " + "|".join(CSQ_FIELDS) + '"' in fh.read()


def test_annotate_with_ml_pathogenicity(files, tmp_path):
    """--ml: ML_PATHOGENICITY on picked coding entries; its OddsPath gives PP3/BP4 at
    supporting strength only, and a peer predictor with calibrated thresholds wins."""
    from genoma.ml.pathogenicity import predict_variants

    out, tsv = tmp_path / "out.vcf.gz", tmp_path / "acmg.tsv"
    res = run([str(files["vcf"]), "--fasta", str(files["fasta"]), "--transcripts", str(files["gff"]),
               "-o", str(out), "--scores", f"{files['scores']}:REVEL", "--ml", "--tsv", str(tsv)])
    assert res.exit_code == 0, res.output
    text = gzip.open(out, "rt").read()
    fmt = text.split("Format: ")[1].split('"')[0].split("|")
    assert fmt[-1] == "ML_PATHOGENICITY"
    rows = {int(r["POS"]): r for r in csv.DictReader(open(tsv), delimiter="\t")}
    # the same model called directly on the entry's HGVS gives the written score
    for pos in (154, 159, 165):
        rec = next(ln for ln in text.splitlines() if ln.startswith(f"chr1\t{pos}\t"))
        entry = next(e for e in rec.split("CSQ=")[1].split(",") if e.split("|")[6] == "TP")
        f = dict(zip(fmt, entry.split("|"), strict=True))
        pred = predict_variants([{"HGVSc": f["HGVSc"], "HGVSp": f["HGVSp"]}])[0]
        assert pred.score is not None and float(f["ML_PATHOGENICITY"]) == pytest.approx(pred.score, rel=1e-3)
        if pos == 154:  # REVEL 0.95 is present: PP3_Strong from REVEL, not the model
            assert "PP3_Strong" in rows[pos]["ACMG_CRITERIA"]
        elif pos == 165 and f["HGVSp"]:  # REVEL 0.5 gives neither PP3 nor BP4: the model does not step in
            assert "GENOMA_ML" not in rows[pos]["ACMG_REASONS"]
    # the nonsense variant has no peer score: PP3/BP4 (missense only) never fires there
    assert "PP3" not in rows[159]["ACMG_CRITERIA"] and "BP4" not in rows[159]["ACMG_CRITERIA"]


def test_workers_and_compress_level_do_not_change_the_output(files, tmp_path):
    outs = []
    for i, extra in enumerate((["--workers", "1"], ["--workers", "2", "--compress-level", "9"])):
        out = tmp_path / f"o{i}.vcf.gz"
        res = run([str(files["vcf"]), "--fasta", str(files["fasta"]), "--transcripts",
                   str(files["gff"]), "-o", str(out), "--clinvar", str(files["clinvar"]), *extra])
        assert res.exit_code == 0, res.output
        outs.append(gzip.open(out, "rt").read())
    assert outs[0] == outs[1] and "CSQ=" in outs[0]
