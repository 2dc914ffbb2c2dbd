"""Small builders for risk tests: scoring files, VCFs and in-memory targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genoma.io.pgs import TargetGenotypes


def write_scorefile(path: Path, rows: list[dict[str, object]], header: dict[str, str]) -> Path:
    """A PGS-Catalog-style scoring file from dict rows (column order of the first row)."""
    cols = list(rows[0])
    lines = ["###PGS CATALOG SCORING FILE - test"]
    lines += [f"#{k}={v}" for k, v in header.items()]
    lines.append("\t".join(cols))
    for r in rows:
        lines.append("\t".join(str(r.get(c, "")) for c in cols))
    path.write_text("\n".join(lines) + "\n")
    return path


def make_target(
    chrom: list[str], pos: list[int], ref: list[str], alt: list[str], dosage: np.ndarray,
    build: str | None = "GRCh38", ids: list[str] | None = None,
    multiallelic: list[bool] | None = None,
) -> TargetGenotypes:
    """An in-memory target: ``dosage`` is sites × samples ALT counts (NaN missing)."""
    d = np.asarray(dosage, dtype=np.float64)
    n = len(pos)

    def read(rows: np.ndarray) -> np.ndarray:
        return d[np.asarray(rows, dtype=np.int64)]

    return TargetGenotypes(
        path=Path("mem"), samples=[f"S{i}" for i in range(d.shape[1])],
        chrom=np.array(chrom, dtype=object), pos=np.array(pos, dtype=np.int64),
        ref=np.array(ref, dtype=object), alt=np.array(alt, dtype=object),
        ids=np.array(ids if ids else [""] * n, dtype=object),
        multiallelic=np.array(multiallelic if multiallelic else [False] * n, dtype=bool),
        build=build, read_dosage=read)


def write_vcf(path: Path, chrom: list[str], pos: list[int], ids: list[str], ref: list[str],
              alt: list[str], gt: np.ndarray) -> Path:
    """A plain VCF; ``gt`` is sites × samples ALT counts (0/1/2, -1 missing)."""
    code = {0: "0/0", 1: "0/1", 2: "1/1", -1: "./."}
    ns = gt.shape[1]
    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">']
    for c in sorted(set(chrom)):
        lines.append(f"##contig=<ID={c}>")
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", *[f"S{i}" for i in range(ns)]]))
    order = sorted(range(len(pos)), key=lambda k: (chrom[k], pos[k]))
    for k in order:
        lines.append("\t".join([chrom[k], str(pos[k]), ids[k] or ".", ref[k], alt[k], ".",
                                "PASS", ".", "GT", *[code[int(x)] for x in gt[k]]]))
    path.write_text("\n".join(lines) + "\n")
    return path


def make_panel(seed: int = 0, n_sites: int = 400, per_pop: int = 60):
    """A 3-population reference panel (``ReferenceGenotypes``) with distinct frequencies."""
    from genoma.analyses.ancestry.assign import ReferenceGenotypes

    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.9, n_sites)
    pops, geno = [], []
    for name in ("P1", "P2", "P3"):
        f = np.clip(base + rng.normal(0, 0.15, n_sites), 0.02, 0.98)
        geno.append(rng.binomial(2, f[:, None], (n_sites, per_pop)))
        pops += [name] * per_pop
    g = np.concatenate(geno, axis=1).astype(np.int8)
    ref = rng.choice(["A", "C"], n_sites)
    alt = np.where(ref == "A", "G", "T")
    return ReferenceGenotypes(name="synthetic", build="GRCh38",
                              chrom=np.array(["chr1"] * n_sites, dtype=object),
                              pos=np.arange(1, n_sites + 1) * 100, ref=ref.astype(object),
                              alt=alt.astype(object), genotypes=g,
                              samples=np.array([f"R{i}" for i in range(g.shape[1])]),
                              populations=np.array(pops))
