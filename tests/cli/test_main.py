"""CLI behaviour common to every command: errors, exit codes, output directories."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genoma.cli.main import app
from genoma.model.builds import CONTIG_LENGTHS

runner = CliRunner()


def _vcf(path: Path, build: str, records: list[str], sample: str = "S1") -> Path:
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in CONTIG_LENGTHS[build].items()]
    lines += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{sample}"]
    lines += records
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def test_version() -> None:
    r = runner.invoke(app, ["version"])
    assert r.exit_code == 0
    assert r.output.startswith("genoma ")


def test_analyze_missing_vcf_exit_3(tmp_path: Path) -> None:
    r = runner.invoke(app, ["analyze", str(tmp_path / "missing.vcf"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 3, r.output
    assert "missing.vcf" in r.output
    assert not (tmp_path / "o").exists()


def test_analyze_malformed_record_exit_4(tmp_path: Path) -> None:
    vcf = _vcf(tmp_path / "bad.vcf", "GRCh38", [
        "chr10\t94781859\t.\tG\tA\t50\tPASS\t.\tGT\t0/1",
        "chr10\tnotanumber\t.\tG\tA\t50\tPASS\t.\tGT\t0/1",
    ])
    r = runner.invoke(app, ["analyze", str(vcf), "-o", str(tmp_path / "o")])
    assert r.exit_code == 4, r.output
    assert "bad.vcf" in r.output
    # the malformed record is on line 30: 1 fileformat + 25 contigs + FORMAT + #CHROM + 2
    assert ":30" in r.output
    assert not (tmp_path / "o").exists()


def test_analyze_grch37_with_grch38_only_knowledge_exit_5(tmp_path: Path) -> None:
    vcf = _vcf(tmp_path / "b37.vcf", "GRCh37", [
        "chr7\t117199644\t.\tATCT\tA\t50\tPASS\t.\tGT\t1/1",
    ])
    r = runner.invoke(app, ["analyze", str(vcf), "-o", str(tmp_path / "o")])
    assert r.exit_code == 5, r.output
    assert "GRCh37" in r.output
    assert not (tmp_path / "o").exists()


def test_existing_output_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    keep = out / "keep.txt"
    keep.write_text("precious")
    vcf = _vcf(tmp_path / "ok.vcf", "GRCh38", ["chr10\t94781859\t.\tG\tA\t50\tPASS\t.\tGT\t0/1"])
    r = runner.invoke(app, ["analyze", str(vcf), "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert "--force" in r.output
    assert keep.read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("fmt", ["xml", ""])
def test_bad_format_is_usage_error(tmp_path: Path, fmt: str) -> None:
    vcf = _vcf(tmp_path / "ok.vcf", "GRCh38", ["chr10\t94781859\t.\tG\tA\t50\tPASS\t.\tGT\t0/1"])
    r = runner.invoke(app, ["analyze", str(vcf), "-o", str(tmp_path / "o"), "--format", fmt])
    assert r.exit_code == 2, r.output
