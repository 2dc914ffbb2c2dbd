"""VCF → VCF Zarr import: content, header checks (exit 5), interrupted imports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genoma.errors import InconsistentInputError, MalformedInputError, UsageError
from genoma.io import vcz
from genoma.io.vcz import MARKER, import_vcfs, open_cohort, partial_path, read_sample_table


def _vcf(path: Path, samples: list[str], chrom: str, n: int = 20, seed: int = 0,
         length: int = 10**6) -> Path:
    import pysam

    rng = np.random.default_rng(seed)
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID={chrom},length={length}>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                        *samples])]
    gts = ["0/0", "0/1", "1/1", "./."]
    for i in range(n):
        calls = rng.choice(gts, size=len(samples), p=[0.5, 0.3, 0.15, 0.05])
        lines.append(f"{chrom}\t{100 * (i + 1)}\t.\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(calls))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path  # deliberately not indexed: import indexes in a scratch folder


def test_import_roundtrip(tmp_path: Path) -> None:
    from cyvcf2 import VCF

    samples = ["a", "b", "c", "d"]
    v1 = _vcf(tmp_path / "c1.vcf.gz", samples, "chr1", seed=1)
    v2 = _vcf(tmp_path / "c2.vcf.gz", samples, "chr2", seed=2)
    info = import_vcfs([v1, v2], tmp_path / "s.vcz")
    assert info["samples"] == 4 and info["variants"] == 40
    assert (tmp_path / "s.vcz" / MARKER).is_file()
    assert not partial_path(tmp_path / "s.vcz").exists()
    ds = open_cohort(tmp_path / "s.vcz")
    assert list(ds["sample_id"].values) == samples
    gt = ds["call_genotype"].values
    expected = np.concatenate([np.array([r.genotype.array()[:, :2] for r in VCF(str(v))])
                               for v in (v1, v2)])
    assert np.array_equal(gt, expected)
    with pytest.raises(UsageError, match="--force"):
        import_vcfs([v1], tmp_path / "s.vcz")


def test_mismatched_samples_and_contigs(tmp_path: Path) -> None:
    v1 = _vcf(tmp_path / "a.vcf.gz", ["s1", "s2", "s3"], "chr1")
    v2 = _vcf(tmp_path / "b.vcf.gz", ["s1", "s2", "x9"], "chr2")
    with pytest.raises(InconsistentInputError) as err:
        import_vcfs([v1, v2], tmp_path / "o.vcz")
    assert err.value.exit_code == 5
    assert "s3" in str(err.value) and "x9" in str(err.value) and "b.vcf.gz" in str(err.value)
    v3 = _vcf(tmp_path / "c.vcf.gz", ["s1", "s2", "s3"], "2")
    with pytest.raises(InconsistentInputError, match=r"naming differs"):
        import_vcfs([v1, v3], tmp_path / "o.vcz")
    v4 = _vcf(tmp_path / "d.vcf.gz", ["s1", "s2", "s3"], "chr1", length=5)
    v5 = _vcf(tmp_path / "e.vcf.gz", ["s1", "s2", "s3"], "chr1", length=7)
    with pytest.raises(InconsistentInputError, match="length"):
        import_vcfs([v4, v5], tmp_path / "o.vcz")
    assert not (tmp_path / "o.vcz").exists()


def test_interrupted_import_is_never_taken_as_good(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = _vcf(tmp_path / "a.vcf.gz", ["s1", "s2"], "chr1")
    out = tmp_path / "s.vcz"

    def boom(tmp: Path, final: Path, attrs: dict) -> None:
        raise KeyboardInterrupt  # the conversion ran, the process dies before finalising

    monkeypatch.setattr(vcz, "finalise_store", boom)
    with pytest.raises(KeyboardInterrupt):
        import_vcfs([v1], out)
    assert not out.exists()
    monkeypatch.undo()
    # a killed process leaves a half-written .partial behind: the rerun starts afresh
    part = partial_path(out.resolve())
    part.mkdir()
    (part / "call_genotype").mkdir()
    info = import_vcfs([v1], out)
    assert info["variants"] == 20 and not part.exists()
    # a store without the completion marker is refused
    (out / MARKER).unlink()
    with pytest.raises(MalformedInputError, match="incomplete"):
        open_cohort(out)


def test_read_sample_table(tmp_path: Path) -> None:
    p = tmp_path / "p.tsv"
    p.write_text("#IID\ty\nA\t1\nB\tNA\n")
    t = read_sample_table(p)
    assert list(t.columns) == ["sample", "y"] and t.y.isna().sum() == 1
    p.write_text("sample\ty\nA\t1\nA\t2\n")
    with pytest.raises(MalformedInputError) as err:
        read_sample_table(p)
    assert err.value.line == 3
    p.write_text("id\ty\nA\t1\n")
    with pytest.raises(MalformedInputError, match="sample"):
        read_sample_table(p)
