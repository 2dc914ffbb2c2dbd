"""Helpers shared by the cohort tests: small VCFs written from arrays, plink2 runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

PLINK2 = shutil.which("plink2")


def need_plink2() -> str:
    """Path of plink2, or skip (the peer is the Debian package ``plink2``)."""
    if PLINK2 is None:
        pytest.skip("plink2 not installed (apt-get install -y plink2): peer comparison skipped")
    return PLINK2


def write_vcf(path: Path, samples: list[str], chrom: list[str], pos: np.ndarray,
              ref: list[str], alt: list[str], gt: np.ndarray,
              contig_lengths: dict[str, int] | None = None) -> Path:
    """Write a bgzipped, indexed VCF; ``gt`` is (variants, samples, 2) with -1 missing."""
    import pysam

    lines = ["##fileformat=VCFv4.2",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    for c, length in (contig_lengths or {c: 10**9 for c in dict.fromkeys(chrom)}).items():
        lines.append(f"##contig=<ID={c},length={length}>")
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", *samples]))
    sym = np.array(["0", "1", "2", "3"], dtype=object)
    for i in range(len(pos)):
        a = gt[i, :, 0]
        b = gt[i, :, 1]
        calls = np.where((a < 0) | (b < 0), "./.", sym[np.clip(a, 0, 3)] + "/" + sym[np.clip(b, 0, 3)])
        lines.append("\t".join([chrom[i], str(int(pos[i])), f"{chrom[i]}:{int(pos[i])}", ref[i],
                                alt[i], ".", "PASS", ".", "GT", *calls]))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def run_plink2(args: list[str], cwd: Path) -> None:
    """Run plink2 (2 threads), failing the test with its log on error."""
    exe = need_plink2()
    res = subprocess.run([exe, "--threads", "2", *args], cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"plink2 failed: {res.stdout[-2000:]}")


def round6(x: np.ndarray) -> np.ndarray:
    """Round to 6 significant digits, as plink2 prints."""
    return np.array([float(f"{v:.6g}") if np.isfinite(v) else np.nan for v in x])
