"""``genoma pgx`` through the CLI runner: VCF → pgx.tsv / recommendations.tsv."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from genoma.cli.main import app
from genoma.provenance import sha256_file

runner = CliRunner()

GRCH38_CONTIGS = ("##contig=<ID=chr10,length=133797422>\n"
                  "##contig=<ID=chr6,length=170805979>\n"
                  "##contig=<ID=chr13,length=114364328>\n")
# GRCh38 defining variants: CYP2C9 *2, *3; TPMT *3A (two sites); NUDT15 *3
RECORDS = [
    ("chr6", 18130687, "T", "C", ["0|0", "0|0", "0|1"]),
    ("chr6", 18138997, "C", "T", ["0|0", "0|0", "0|1"]),
    ("chr10", 94942290, "C", "T", ["1|0", "0|0", "0|0"]),
    ("chr10", 94981296, "A", "C", ["0|1", "0|0", "1|1"]),
    ("chr13", 48045719, "C", "T", ["0|0", "0|0", "0|0"]),
]
GENES = "CYP2C9,TPMT,NUDT15,CYP2D6"


def write_vcf(path: Path, records=RECORDS, contigs: str = GRCH38_CONTIGS,
              samples=("S1", "S2", "S3")) -> Path:
    lines = ["##fileformat=VCFv4.2\n", contigs,
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)
             + "\n"]
    for c, p, r, a, gts in records:
        lines.append(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t" + "\t".join(gts) + "\n")
    path.write_text("".join(lines))
    return path


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, dtype=str)


def test_pgx_vcf_multi_sample(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    out = tmp_path / "out"
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", GENES, "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["samples"] == 3 and summary["build"] == "GRCh38"
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "pgx.tsv", "recommendations.tsv", "run.log"]
    calls = read_tsv(out / "pgx.tsv")
    assert list(calls.columns[:6]) == ["sample", "gene", "diplotype", "phenotype",
                                        "activity_score", "status"]
    assert len(calls) == 3 * 4
    got = {(r.sample, r.gene): (r.diplotype, r.phenotype, r.activity_score, r.status)
           for r in calls.itertuples()}
    assert got[("S1", "CYP2C9")] == ("*2/*3", "Poor Metabolizer", "0.5", "called")
    assert got[("S2", "CYP2C9")] == ("*1/*1", "Normal Metabolizer", "2.0", "called")
    assert got[("S3", "CYP2C9")] == ("*3/*3", "Poor Metabolizer", "0.0", "called")
    assert got[("S3", "TPMT")][:2] == ("*1/*3A", "Intermediate Metabolizer")
    assert got[("S1", "NUDT15")][:2] == ("*1/*1", "Normal Metabolizer")
    assert got[("S1", "CYP2D6")] == ("", "Indeterminate", "", "not_callable")
    assert set(calls["status"]) <= {"called", "ambiguous", "not_callable", "outside_call"}
    recs = read_tsv(out / "recommendations.tsv")
    assert list(recs.columns[:6]) == ["sample", "drug", "genes", "recommendation",
                                       "classification", "color"]
    aza = recs[(recs["sample"] == "S3") & (recs["drug"] == "azathioprine")].iloc[0]
    assert aza["genes"] == "NUDT15+TPMT" and aza["color"] == "yellow"
    assert set(recs["color"]) <= {"green", "yellow", "red", "grey"}
    cel = recs[(recs["sample"] == "S1") & (recs["drug"] == "celecoxib")].iloc[0]
    assert cel["color"] == "yellow"  # CYP2C9 PM: 25-50% of the lowest starting dose
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "ok" and man["genome_build"] == "GRCh38"
    assert man["inputs"][0]["sha256"] == sha256_file(vcf)
    assert man["knowledge"][0]["name"] == "pgx"
    assert man["knowledge"][0]["version"].startswith("pypgx-")
    assert man["analyses"] == {"pgx": "0.1.0"}
    assert "3 samples" in (out / "run.log").read_text()


def test_sample_selection_and_explicit_call(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    out = tmp_path / "out"
    res = runner.invoke(app, ["pgx", "call", str(vcf), "-s", "S3,S1", "--genes", "CYP2C9",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert list(read_tsv(out / "pgx.tsv")["sample"]) == ["S1", "S3"]
    sf = tmp_path / "samples.txt"
    sf.write_text("# one per line\nS2\n")
    res = runner.invoke(app, ["pgx", str(vcf), "-S", str(sf), "--genes", "CYP2C9",
                              "-o", str(tmp_path / "o2")])
    assert res.exit_code == 0, res.output
    assert list(read_tsv(tmp_path / "o2" / "pgx.tsv")["sample"]) == ["S2"]


def test_existing_output_refused_without_force(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    out = tmp_path / "out"
    args = ["pgx", str(vcf), "--genes", "CYP2C9", "-o", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    (out / "marker").write_text("x")
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "--force" in res.output.replace("\n", "")
    assert (out / "marker").exists()
    res = runner.invoke(app, [*args, "--force"])
    assert res.exit_code == 0, res.output
    assert not (out / "marker").exists()


def test_vcf_without_pgx_positions_is_not_callable(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf", records=[
        ("chr10", 1000, "A", "G", ["0|1", "0|0", "1|1"])])
    out = tmp_path / "out"
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", GENES, "-o", str(out)])
    assert res.exit_code == 0, res.output
    calls = read_tsv(out / "pgx.tsv")
    assert (calls["status"] == "not_callable").all()
    assert (calls["phenotype"] == "Indeterminate").all()
    assert calls["notes"].str.contains("defining positions").all()
    assert (calls["missing_positions"] == "all").all()
    assert (calls["n_positions_in_vcf"] == "0").all()


def test_build_unknown_and_no_pgx_positions_exits_5(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf", contigs="##contig=<ID=chr10>\n",
                    records=[("chr10", 1000, "A", "G", ["0|1", "0|0", "1|1"])])
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", "CYP2C9", "-o",
                              str(tmp_path / "out")])
    assert res.exit_code == 5, res.output
    assert "--build" in res.output.replace("\n", "")
    assert not (tmp_path / "out").exists()


def test_build_inferred_from_ref_alleles(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf", contigs="##contig=<ID=chr10>\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", GENES, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["genome_build"] == "GRCh38"
    assert "inferred GRCh38" in (out / "run.log").read_text()
    calls = read_tsv(out / "pgx.tsv")
    row = calls[(calls["sample"] == "S1") & (calls["gene"] == "CYP2C9")].iloc[0]
    assert row["diplotype"] == "*2/*3"


def test_build_contradicting_header_exits_5(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    res = runner.invoke(app, ["pgx", str(vcf), "--build", "GRCh37", "--genes", "CYP2C9",
                              "-o", str(tmp_path / "out")])
    assert res.exit_code == 5, res.output


def test_outside_call_unknown_gene_exits_4_with_line(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    oc = tmp_path / "outside.tsv"
    oc.write_text("# outside\nCYP2D6\t*1/*4\nCYP9Z9\t*1/*1\n")
    res = runner.invoke(app, ["pgx", str(vcf), "--outside-calls", str(oc), "-o",
                              str(tmp_path / "out")])
    assert res.exit_code == 4, res.output
    flat = res.output.replace("\n", "")  # rich wraps long paths on stderr
    assert "outside.tsv:3: unknown gene 'CYP9Z9'" in flat
    oc.write_text("CYP2D6\t*1/*4000\n")
    res = runner.invoke(app, ["pgx", str(vcf), "--outside-calls", str(oc), "-o",
                              str(tmp_path / "out")])
    assert res.exit_code == 4 and "outside.tsv:1:" in res.output.replace("\n", "")
    assert not (tmp_path / "out").exists()


def test_outside_call_overrides_vcf(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    oc = tmp_path / "outside.tsv"
    oc.write_text("CYP2D6\t*4/*1x2\nHLA-B\t*57:01/*07:02\n")
    out = tmp_path / "out"
    args = ["pgx", str(vcf), "--genes", "CYP2C9,CYP2D6", "--outside-calls", str(oc)]
    # a PharmCAT-style file describes one sample: refused for three
    res = runner.invoke(app, [*args, "-o", str(tmp_path / "o3")])
    assert res.exit_code == 5, res.output
    res = runner.invoke(app, [*args, "-s", "S2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    calls = read_tsv(out / "pgx.tsv")
    assert set(calls["sample"]) == {"S2"}
    d6 = calls[calls["gene"] == "CYP2D6"]
    assert (d6["status"] == "outside_call").all()
    assert (d6["diplotype"] == "*1x2/*4").all()
    assert (d6["phenotype"] == "Normal Metabolizer").all()
    assert (calls.loc[calls["gene"] == "HLA-B", "status"] == "outside_call").all()
    man = json.loads((out / "manifest.json").read_text())
    assert [i["role"] for i in man["inputs"]] == ["vcf", "outside_calls"]


def test_unknown_gene_option_is_usage_error(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", "CYP9Z9", "-o",
                              str(tmp_path / "out")])
    assert res.exit_code == 2 and "CYP9Z9" in res.output.replace("\n", "")


def test_hla_only_as_outside_call(tmp_path):
    vcf = write_vcf(tmp_path / "in.vcf")
    res = runner.invoke(app, ["pgx", str(vcf), "--genes", "HLA-B", "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--outside-calls" in res.output.replace("\n", "")


def test_missing_vcf_exits_3(tmp_path):
    res = runner.invoke(app, ["pgx", str(tmp_path / "nope.vcf"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 3, res.output


def test_warfarin_subcommand_routing(tmp_path, monkeypatch):
    """The group routes `warfarin` to the warfarin command and anything else to call."""
    import typer

    import genoma.cli.pgx as pgx_cli

    seen = {}

    def fake_warfarin(table: Path = typer.Argument(...),
                      out: Path = typer.Option(..., "-o", "--out"),
                      force: bool = typer.Option(False, "--force"),
                      json_out: bool = typer.Option(False, "--json")) -> None:
        seen.update(table=table, out=out, force=force)

    def fake_command():
        sub = typer.Typer()
        sub.command("warfarin")(fake_warfarin)
        return typer.main.get_command(sub)

    monkeypatch.setattr(pgx_cli, "_warfarin_available", lambda: True)
    monkeypatch.setattr(pgx_cli, "_warfarin_command", fake_command)
    t = tmp_path / "t.csv"
    t.write_text("x\n")
    res = runner.invoke(app, ["pgx", "warfarin", str(t), "-o", str(tmp_path / "w"),
                              "--force"])
    assert res.exit_code == 0, res.output
    assert seen == {"table": t, "out": tmp_path / "w", "force": True}
    res = runner.invoke(app, ["pgx", "--help"])
    assert res.exit_code == 0 and "call" in res.output
    assert _listed() == ["call", "warfarin"]


def _listed() -> list[str]:
    import click
    import typer

    import genoma.cli.pgx as pgx_cli

    group = typer.main.get_command(pgx_cli.app)
    return group.list_commands(click.Context(group))


def test_warfarin_subcommand_missing_when_module_absent(tmp_path, monkeypatch):
    import genoma.cli.pgx as pgx_cli

    monkeypatch.setattr(pgx_cli, "_warfarin_available", lambda: False)
    assert _listed() == ["call"]
    t = tmp_path / "t.csv"
    t.write_text("x\n")
    # without the warfarin command, `warfarin` is taken as the VCF of `call`
    res = runner.invoke(app, ["pgx", "warfarin", "-o", str(tmp_path / "w")])
    assert res.exit_code == 3, res.output


@pytest.mark.skipif(importlib.util.find_spec("genoma.cli.pgx_warfarin") is None,
                    reason="genoma.cli.pgx_warfarin not present")
def test_warfarin_real_table(tmp_path):
    from conftest import require_shared

    src = require_shared("pgx", "warfarin", "iwpc_dev.csv")
    table = tmp_path / "iwpc_head.csv"
    with open(src, encoding="utf-8", errors="replace") as fh:
        table.write_text("".join(next(fh) for _ in range(21)))
    out = tmp_path / "w"
    res = runner.invoke(app, ["pgx", "warfarin", str(table), "-o", str(out)])
    assert res.exit_code == 0, res.output
    w = pd.read_csv(out / "warfarin.tsv", sep="\t")
    assert list(w.columns[:3]) == ["id", "dose_iwpc", "dose_model"]
    assert len(w) == 20
