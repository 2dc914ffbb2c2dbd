"""Polygenic score inputs: PGS Catalog scoring files and target genotypes for scoring.

Scoring files
-------------
:func:`read_scoring_file` reads

* PGS Catalog *formatted* files (format v2: ``###PGS CATALOG SCORING FILE``, ``#key=value``
  header, columns ``rsID chr_name chr_position effect_allele other_allele effect_weight``
  …);
* PGS Catalog *harmonized* files (``*_hmPOS_GRCh3x.txt[.gz]``): the harmonized
  ``hm_chr`` / ``hm_pos`` (and ``hm_inferOtherAllele`` when the author gave no other
  allele) replace the author's coordinates, and the build is ``#HmPOS_build``;
* custom files with the same column names (``chr_name chr_position effect_allele
  [other_allele] effect_weight``) and optional ``#pgs_id=`` / ``#genome_build=`` lines.

Every ``#key=value`` header line is kept (:attr:`ScoringFile.header`), the license line
included (:attr:`ScoringFile.license`). The genome build comes from the header
(``#HmPOS_build`` for harmonized files, else ``#genome_build``; ``hg19``/``hg38``/``NR``
are mapped to ``GRCh37``/``GRCh38``/unknown).

Target genotypes
----------------
:func:`load_target` reads a VCF/BCF (through :func:`genoma.io.vcf.open_vcf`) or a PLINK 1
``.bed/.bim/.fam`` fileset (through PyPI ``bed-reader``) into :class:`TargetGenotypes`:
site arrays plus a function that returns ALT-allele dosages of chosen sites, so that
scoring reads only the sites it needs, chunk by chunk.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import InconsistentInputError, InputMissingError, MalformedInputError
from genoma.model.variant import canonical_chrom

__all__ = [
    "PackedBed",
    "ScoringFile",
    "TargetGenotypes",
    "load_target",
    "normalise_build",
    "read_pcs",
    "read_scoring_file",
]

_BUILD_ALIASES = {
    "grch37": "GRCh37", "hg19": "GRCh37", "b37": "GRCh37", "ncbi37": "GRCh37",
    "grch38": "GRCh38", "hg38": "GRCh38", "b38": "GRCh38", "ncbi38": "GRCh38",
    "nr": None, "": None, "na": None, "none": None,
}
_HEADER_RE = re.compile(r"^#([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_ALLELE_RE = re.compile(r"^[ACGTN]+$")
_SUPPORTED_EFFECT = ("additive", "dominant", "recessive")


def normalise_build(value: str | None) -> str | None:
    """Map a build name as written in scoring files to ``GRCh37`` / ``GRCh38`` / ``None``.

    Raises
    ------
    ValueError
        For a build that is neither (``NCBI36`` …): callers turn it into an input error.
    """
    if value is None:
        return None
    key = value.strip().lower()
    if key in _BUILD_ALIASES:
        return _BUILD_ALIASES[key]
    raise ValueError(f"unsupported genome build {value!r}")


@dataclass
class ScoringFile:
    """One polygenic score: its header metadata and its variants.

    Attributes
    ----------
    path
        The file read.
    pgs_id
        ``#pgs_id`` (``PGS001229``), else the file name without extensions.
    header
        Every ``#key=value`` header line, in order.
    build
        ``GRCh37`` / ``GRCh38`` of the coordinates used (``HmPOS_build`` for harmonized
        files), ``None`` when the file does not say (``NR``).
    harmonized
        True for a PGS Catalog hmPOS file (coordinates from ``hm_chr``/``hm_pos``).
    chrom, pos
        Canonical chromosome (object array, ``""`` when unknown) and 1-based position
        (int64, 0 when unknown: such variants can only match by rsID).
    rsid
        rsIDs (object array, ``""`` when absent).
    effect_allele, other_allele
        Upper-case alleles (``other_allele`` ``""`` when not given).
    weight
        ``effect_weight`` (float64).
    effect_type
        ``additive`` / ``dominant`` / ``recessive`` per variant.
    line
        1-based line number of each variant in the file (for error messages, reports).
    """

    path: Path
    pgs_id: str
    header: dict[str, str]
    build: str | None
    harmonized: bool
    chrom: np.ndarray
    pos: np.ndarray
    rsid: np.ndarray
    effect_allele: np.ndarray
    other_allele: np.ndarray
    weight: np.ndarray
    effect_type: np.ndarray
    line: np.ndarray

    @property
    def n_variants(self) -> int:
        """Number of variants (rows) in the score."""
        return int(self.weight.shape[0])

    @property
    def license(self) -> str:
        """The score's ``#license`` line; the PGS Catalog default terms when absent."""
        return self.header.get(
            "license",
            "not stated in the file (PGS Catalog default: EBI terms of use; check the "
            "publication's terms)",
        )

    @property
    def name(self) -> str:
        """``#pgs_name`` when given."""
        return self.header.get("pgs_name", "")

    @property
    def trait(self) -> str:
        """``#trait_reported`` (or ``#trait_mapped``) when given."""
        return self.header.get("trait_reported", self.header.get("trait_mapped", ""))

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description (header, build, license, counts) for reports."""
        return {
            "pgs_id": self.pgs_id,
            "path": str(self.path),
            "name": self.name,
            "trait": self.trait,
            "build": self.build,
            "harmonized": self.harmonized,
            "license": self.license,
            "n_variants": self.n_variants,
            "header": dict(self.header),
        }


def _open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".gz", ".txt", ".tsv"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


def _per_unique(values: np.ndarray, fn: Callable[[Any], Any]) -> np.ndarray:
    """``fn`` applied to each distinct value once (object array aligned to ``values``)."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    codes, uniq = pd.factorize(values, sort=False)
    out = np.empty(len(uniq), dtype=object)
    out[:] = [fn(x) for x in uniq]
    return out[codes]


def read_scoring_file(path: str | Path) -> ScoringFile:
    """Read a PGS Catalog (formatted or harmonized) or custom scoring file.

    Parameters
    ----------
    path
        Plain or gzip-compressed tab-separated file.

    Returns
    -------
    ScoringFile

    Raises
    ------
    InputMissingError
        The file does not exist (exit 3).
    MalformedInputError
        No column header, required columns missing, a bad allele or weight, or an
        unknown build; names the file and line (exit 4).

    References
    ----------
    PGS Catalog scoring file format v2: https://www.pgscatalog.org/downloads/#scoring_columns
    """
    p = Path(path)
    if not p.is_file():
        raise InputMissingError("scoring file not found", path=p)
    header: dict[str, str] = {}
    cols: list[str] | None = None
    header_line = 0
    try:
        with _open_text(p) as fh:
            for n, raw in enumerate(fh, start=1):
                text = raw.rstrip("\r\n")
                if text.startswith("#"):
                    m = _HEADER_RE.match(text.split("\t")[0].rstrip())
                    if m:
                        header[m.group(1)] = m.group(2).strip()
                    continue
                if not text.strip():
                    continue
                cols = [c.strip() for c in text.split("\t")]
                header_line = n
                break
            if cols is None:
                raise MalformedInputError(
                    "no column header line (chr_name … effect_weight)", path=p)
            body = pd.read_csv(fh, sep="\t", header=None, dtype=str, keep_default_na=False,
                               na_filter=False, comment=None, quoting=3,
                               skip_blank_lines=False, index_col=False,
                               on_bad_lines="error", engine="c").fillna("")
    except (OSError, EOFError) as exc:
        raise MalformedInputError(f"cannot read the scoring file ({exc})", path=p) from exc
    except pd.errors.EmptyDataError:
        body = pd.DataFrame(columns=range(len(cols or [])), dtype=str)
    except pd.errors.ParserError as exc:
        ln = re.search(r"line (\d+)", str(exc))
        raise MalformedInputError(
            f"more columns than the header has ({exc})", path=p,
            line=header_line + int(ln.group(1)) if ln else None) from exc
    # the 1-based file line of each data row; drop blank and comment lines
    lines_all = header_line + 1 + np.arange(len(body), dtype=np.int64)
    if body.shape[1] > len(cols):
        extra = (body.iloc[:, len(cols):].astype(str).apply(lambda c: c.str.strip() != "")
                 .any(axis=1).to_numpy(bool))
        if extra.any():
            k = int(np.flatnonzero(extra)[0])
            raise MalformedInputError(
                f"more columns than the header has ({len(cols)})", path=p,
                line=int(lines_all[k]))
        body = body.iloc[:, : len(cols)]
    for c in range(body.shape[1], len(cols)):
        body[c] = ""
    if len(body):
        comment = _per_unique(body[0].to_numpy(dtype=object),
                              lambda x: str(x).startswith("#")).astype(bool)
        blank = (body.to_numpy(dtype=object) == "").all(axis=1)
    else:
        comment = blank = np.zeros(0, bool)
    keep = ~(comment | blank)
    if not keep.all():
        body = body[keep].reset_index(drop=True)
    lines = lines_all[keep]
    idx = {c: i for i, c in enumerate(cols)}
    harmonized = "hm_chr" in idx and "hm_pos" in idx
    if "effect_weight" not in idx and any(c.startswith("dosage_") for c in cols):
        raise MalformedInputError(
            "genotype-specific weights (dosage_0/1/2_weight) are not supported yet; "
            "only effect_weight scores", path=p, line=header_line)
    for req in ("effect_allele", "effect_weight"):
        if req not in idx:
            raise MalformedInputError(
                f"required column {req!r} missing (columns: {', '.join(cols)})",
                path=p, line=header_line)
    if not harmonized and "chr_position" not in idx and "rsID" not in idx:
        raise MalformedInputError(
            "the file has neither chr_name/chr_position nor rsID columns: variants cannot "
            "be located", path=p, line=header_line)
    build_key = "HmPOS_build" if harmonized else "genome_build"
    try:
        build = normalise_build(header.get(build_key))
    except ValueError as exc:
        raise MalformedInputError(f"#{build_key}: {exc}", path=p) from exc
    nrow = len(body)

    def col(name: str, case: Callable[[str], str] | None = None,
            numeric: bool = False) -> np.ndarray:
        i = idx.get(name)
        if i is None:
            return np.full(nrow, "", dtype=object)
        v = body[i].to_numpy(dtype=object)
        if not nrow:
            return v
        if numeric:
            # numbers parse with surrounding blanks; strip only blank-only cells
            v = v.copy()
            odd = np.flatnonzero(pd.to_numeric(body[i], errors="coerce").isna().to_numpy())
            v[odd] = [str(x).strip() for x in v[odd]]
            return v
        if case is None:
            return _per_unique(v, lambda x: str(x).strip())
        return _per_unique(v, lambda x: case(str(x).strip()))

    if harmonized:
        chrom_raw, pos_raw = col("hm_chr"), col("hm_pos", numeric=True)
        rsid = col("hm_rsID")
        rsid = np.where(rsid != "", rsid, col("rsID"))
    else:
        chrom_raw, pos_raw = col("chr_name"), col("chr_position", numeric=True)
        rsid = col("rsID")
    ea = col("effect_allele", str.upper)
    oa = col("other_allele", str.upper)
    if harmonized and "hm_inferOtherAllele" in idx:
        inf = col("hm_inferOtherAllele", str.upper)
        # a single inferred allele fills a missing other allele; several ("A/G") do not
        slash = _per_unique(inf, lambda x: "/" in x).astype(bool)
        use = (oa == "") & (inf != "") & ~slash
        oa = np.where(use, inf, oa)
    # other alleles that are lists ("A/G") or not DNA count as not given
    oa_ok = _per_unique(oa, lambda x: _ALLELE_RE.fullmatch(x) is not None).astype(bool)
    oa = np.where(oa_ok | (oa == ""), oa, "").astype(object)
    w_raw = col("effect_weight", numeric=True)
    weights = pd.to_numeric(pd.Series(w_raw), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(weights)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise MalformedInputError(f"effect_weight {w_raw[k]!r} is not a finite number",
                                  path=p, line=int(lines[k]))
    empty_ea = ea == ""
    if empty_ea.any():
        k = int(np.flatnonzero(empty_ea)[0])
        raise MalformedInputError("effect_allele is empty", path=p, line=int(lines[k]))
    # non-DNA effect alleles (HLA "P"/"N", haplotypes) are kept: matching reports them
    # as unmatchable, as pgsc_calc does
    has_pos = pos_raw != ""
    pos_num = pd.to_numeric(pd.Series(pos_raw), errors="coerce").to_numpy(np.float64)
    badpos = has_pos & ~(np.isfinite(pos_num) & (pos_num >= 1) & (pos_num == np.floor(pos_num)))
    if badpos.any():
        k = int(np.flatnonzero(badpos)[0])
        raise MalformedInputError(f"position {pos_raw[k]!r} is not a positive integer",
                                  path=p, line=int(lines[k]))
    pos = np.where(has_pos, np.nan_to_num(pos_num), 0).astype(np.int64)
    chrom = _per_unique(chrom_raw, lambda c: canonical_chrom(c) if c else "")
    etype = col("effect_type", str.lower)
    etype[etype == ""] = "additive"
    etype[col("is_dominant", str.lower) == "true"] = "dominant"
    etype[col("is_recessive", str.lower) == "true"] = "recessive"
    badt = ~np.isin(etype, _SUPPORTED_EFFECT)
    if badt.any():
        k = int(np.flatnonzero(badt)[0])
        raise MalformedInputError(f"effect_type {etype[k]!r} is not supported", path=p,
                                  line=int(lines[k]))
    accession = col("accession")
    pgs_id = header.get("pgs_id") or (str(accession[0]) if nrow and accession[0] else _stem(p))
    return ScoringFile(
        path=p,
        pgs_id=pgs_id,
        header=header,
        build=build,
        harmonized=harmonized,
        chrom=chrom,
        pos=pos,
        rsid=np.asarray(rsid, dtype=object),
        effect_allele=np.asarray(ea, dtype=object),
        other_allele=np.asarray(oa, dtype=object),
        weight=weights,
        effect_type=etype,
        line=np.asarray(lines, dtype=np.int64),
    )


# -- targets --------------------------------------------------------------------------


_BED_MAGIC = bytes([0x6C, 0x1B, 0x01])


@dataclass
class PackedBed:
    """Direct access to the 2-bit codes of a variant-major PLINK 1 ``.bed`` file.

    Attributes
    ----------
    path
        The ``.bed`` file.
    n_samples
        Samples in the file (``.fam`` lines).
    n_variants
        Variants in the file (``.bim`` lines).
    samples
        Indices (``.fam`` order) of the selected samples; ``None`` for all.
    """

    path: Path
    n_samples: int
    n_variants: int
    samples: np.ndarray | None = None

    @property
    def bytes_per_variant(self) -> int:
        """``ceil(n_samples / 4)``."""
        return (self.n_samples + 3) // 4

    def array(self) -> np.ndarray:
        """The file as a read-only ``uint8`` memory map (magic bytes included).

        Raises
        ------
        MalformedInputError
            Not a variant-major ``.bed`` file, or a size that does not match the
            ``.bim`` / ``.fam`` (exit 4).
        """
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            magic = fh.read(3)
        if magic != _BED_MAGIC:
            raise MalformedInputError("not a variant-major PLINK 1 .bed file (magic bytes "
                                      "6c 1b 01)", path=self.path)
        want = 3 + self.n_variants * self.bytes_per_variant
        if size != want:
            raise MalformedInputError(
                f".bed size {size} bytes does not match {self.n_variants} variants × "
                f"{self.n_samples} samples ({want} bytes)", path=self.path)
        return np.memmap(self.path, dtype=np.uint8, mode="r")


@dataclass
class TargetGenotypes:
    """Sites and lazily read ALT dosages of a target (one patient or a cohort).

    Attributes
    ----------
    path
        The source (VCF, or the ``.bed`` of a PLINK fileset).
    samples
        Sample ids in column order.
    chrom, pos, ref, alt, ids
        One row per biallelic site (multi-allelic records split into rows).
    multiallelic
        True for rows that come from a record with more than one ALT allele.
    build
        Genome build when known.
    read_dosage
        ``read_dosage(rows)`` → a new float64 array ``(len(rows), n_samples)`` of ALT
        dosages (NaN where the genotype is missing) for the given row indices (callers
        may modify it).
    """

    path: Path
    samples: list[str]
    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    ids: np.ndarray
    multiallelic: np.ndarray
    build: str | None
    read_dosage: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    kind: str = "vcf"
    read_codes: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    """``read_codes(rows)`` → ``int8`` ALT allele counts ``(len(rows), n_samples)``, ``-1``
    missing (hard calls only; ``None`` when the target has dosages or no such view)."""
    packed: PackedBed | None = field(default=None, repr=False)
    """The packed ``.bed`` codes of a PLINK target (scored without decoding)."""

    @property
    def n_sites(self) -> int:
        """Number of rows."""
        return int(self.pos.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return len(self.samples)


def _read_ds(path: Path, samples: list[str], n_records: int) -> dict[int, np.ndarray]:
    """FORMAT/DS of every bi-allelic record that has it (record index → dosages)."""
    from cyvcf2 import VCF

    out: dict[int, np.ndarray] = {}
    v = VCF(str(path), samples=samples, lazy=True)
    try:
        if not any(h.type == "FORMAT" and h.info().get("ID") == "DS" for h in v.header_iter()):
            return out
        for k, rec in enumerate(v):
            if k >= n_records:
                break
            if len(rec.ALT) != 1:
                continue
            try:
                ds = rec.format("DS")
            except KeyError:
                ds = None
            if ds is None:
                continue
            x = np.asarray(ds, dtype=np.float64)[:, 0]
            x[(x < 0) | (x > 2)] = np.nan  # cyvcf2 marks missing values out of range
            out[k] = x
    finally:
        v.close()
    return out


def _vcf_target(path: Path, samples: Sequence[str] | None, build: str | None,
                dosage_field: str | None = None) -> TargetGenotypes:
    from genoma.io.vcf import open_vcf

    with open_vcf(path, samples=samples, build=build) as vf:
        sg = vf.genotypes()
        selected = list(vf.samples)
    rec = sg.record_index
    counts = np.bincount(rec) if rec.size else np.zeros(0, dtype=np.int64)
    multi = counts[rec] > 1 if rec.size else np.zeros(0, dtype=bool)
    gt = sg.gt
    ds_rows: dict[int, np.ndarray] = {}
    if dosage_field == "DS":
        by_rec = _read_ds(path, selected, int(rec.max()) + 1 if rec.size else 0)
        ds_rows = {int(i): by_rec[int(r)] for i, r in enumerate(rec) if int(r) in by_rec}
    elif dosage_field is not None:
        raise ValueError("only the DS dosage field is supported")

    def read(rows: np.ndarray) -> np.ndarray:
        g = gt[rows]
        called = ((g >= 0) | (g == -2)).all(axis=2)
        d = (g == 1).sum(axis=2).astype(np.float64)
        d[~called] = np.nan
        if ds_rows:
            for q, r in enumerate(np.asarray(rows).tolist()):
                x = ds_rows.get(r)
                if x is not None:
                    d[q] = x
        return d

    def read_codes(rows: np.ndarray) -> np.ndarray:
        g = gt[rows]
        called = ((g >= 0) | (g == -2)).all(axis=2)
        c = (g == 1).sum(axis=2, dtype=np.int8)
        c[~called] = -1
        return c

    return TargetGenotypes(
        read_codes=read_codes if not ds_rows and gt.ndim == 3 and gt.shape[2] <= 2 else None,
        path=path, samples=list(sg.samples), chrom=sg.chrom, pos=sg.pos, ref=sg.ref,
        alt=sg.alt, ids=sg.ids if sg.ids.size == sg.n_sites else np.full(sg.n_sites, "",
                                                                         dtype=object),
        multiallelic=multi, build=sg.build, read_dosage=read,
        kind="vcf" if not ds_rows else "vcf-DS")


def _vcz_target(store: Path, samples: Sequence[str] | None, build: str | None) -> TargetGenotypes:
    """A VCF Zarr store as a target: one row per (site, ALT allele); genotypes are read
    lazily, a block of rows at a time, from ``call_genotype`` (Dask)."""
    from genoma.io.vcz import open_cohort

    ds = open_cohort(store)
    store_build = str(ds.attrs.get("genome_build", "unknown"))
    if build and store_build not in ("unknown", "", "None") and store_build.upper() != build.upper():
        raise InconsistentInputError(
            f"the cohort store is {store_build} but {build} was given", path=store)
    all_ids = [str(x) for x in ds["sample_id"].values]
    if samples:
        index = {s: i for i, s in enumerate(all_ids)}
        missing = [x for x in samples if x not in index]
        if missing:
            raise InconsistentInputError(
                f"sample(s) not in the cohort store: {', '.join(missing[:10])}", path=store)
        sel = np.array(sorted({index[x] for x in samples}), dtype=np.int64)
    else:
        sel = np.arange(len(all_ids), dtype=np.int64)
    contigs = np.array([canonical_chrom(str(c)) for c in ds["contig_id"].values], dtype=object)
    vcontig = np.asarray(ds["variant_contig"].values)
    vpos = np.asarray(ds["variant_position"].values, dtype=np.int64)
    alleles = np.asarray(ds["variant_allele"].values, dtype=object)
    vids = (np.asarray(ds["variant_id"].values, dtype=object) if "variant_id" in ds
            else np.full(len(vpos), "", dtype=object))
    # one row per ALT allele (the VCF reader's split of multi-allelic records)
    alts = alleles[:, 1:]
    present = ((alts != "") & (alts != ".") & (alts != None)).astype(bool)  # noqa: E711
    v_idx, a_off = np.nonzero(present)
    a_idx = (a_off + 1).astype(np.int8)
    n_alt = present.sum(axis=1)
    gt = ds["call_genotype"].data  # dask (variants, samples, ploidy)
    all_samples = len(sel) == len(all_ids)

    def read_codes(rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, len(sel)), dtype=np.int8)
        uv, inv = np.unique(v_idx[rows], return_inverse=True)
        g = np.asarray(gt[uv].compute())
        if not all_samples:
            g = g[:, sel]
        g = g[inv]
        called = ((g >= 0) | (g == -2)).all(axis=2)  # -2: fill of a shorter ploidy
        c = (g == a_idx[rows][:, None, None]).sum(axis=2, dtype=np.int8)
        c[~called] = -1
        return c

    def read(rows: np.ndarray) -> np.ndarray:
        c = read_codes(rows).astype(np.float64)
        c[c < 0] = np.nan
        return c

    row_ids = vids[v_idx]
    row_ids = np.where(pd.isna(row_ids) | (row_ids == "."), "", row_ids).astype(object)
    return TargetGenotypes(
        path=store, samples=[all_ids[i] for i in sel], chrom=contigs[vcontig[v_idx]],
        pos=vpos[v_idx], ref=alleles[v_idx, 0].astype(object),
        alt=alleles[v_idx, a_idx.astype(np.int64)].astype(object),
        ids=row_ids,
        multiallelic=n_alt[v_idx] > 1, build=build or (store_build if store_build != "unknown" else None),
        read_dosage=read, kind="vcz", read_codes=read_codes)


def _read_bim_lines(bim: Path) -> tuple[list[Any], ...]:
    """The ``.bim`` read line by line (slow path; names the first malformed line)."""
    chrom: list[str] = []
    pos: list[int] = []
    ids: list[str] = []
    a1: list[str] = []
    a2: list[str] = []
    chrom_cache: dict[str, str] = {}
    with open(bim, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            f = line.split()
            if not f:
                continue
            if len(f) != 6 or not f[3].lstrip("-").isdigit():
                raise MalformedInputError(
                    "a .bim line needs 6 columns: chrom id cM pos A1 A2", path=bim, line=n)
            c = chrom_cache.get(f[0])
            if c is None:
                c = chrom_cache[f[0]] = canonical_chrom(f[0])
            chrom.append(c)
            pos.append(int(f[3]))
            ids.append(f[1])
            a1.append(f[4].upper())
            a2.append(f[5].upper())
    return chrom, pos, ids, a1, a2


def _read_bim(bim: Path) -> tuple[Any, ...]:
    """``.bim`` columns (canonical chrom, pos, id, A1, A2) through the pandas C parser."""
    try:
        df = pd.read_csv(bim, sep=r"\s+", header=None, dtype=str, engine="c",
                         keep_default_na=False, na_filter=False, quoting=3,
                         skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        df = None
    if df is None or df.shape[1] != 6 or not len(df):
        return _read_bim_lines(bim)
    pos = pd.to_numeric(df[3], errors="coerce")
    if pos.isna().any() or not (pos == pos.round()).all() or (df == "").any().any():
        return _read_bim_lines(bim)
    raw = df[0].to_numpy(dtype=object)
    codes, uniq = pd.factorize(raw, sort=False)
    canon = np.array([canonical_chrom(c) for c in uniq], dtype=object)
    return (canon[codes], pos.to_numpy(np.int64), df[1].to_numpy(dtype=object),
            _per_unique(df[4].to_numpy(dtype=object), str.upper),
            _per_unique(df[5].to_numpy(dtype=object), str.upper))


def _plink_target(bed: Path, samples: Sequence[str] | None, build: str | None) -> TargetGenotypes:
    stem = bed.with_suffix("")
    bim, fam = stem.with_suffix(".bim"), stem.with_suffix(".fam")
    for f in (bim, fam):
        if not f.is_file():
            raise InputMissingError("PLINK fileset incomplete: file not found", path=f)
    try:
        from bed_reader import open_bed
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise InputMissingError("reading PLINK .bed needs the bed-reader package") from exc
    chrom, pos, ids, a1, a2 = _read_bim(bim)
    fam_ids = []
    with open(fam, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            f = line.split()
            if not f:
                continue
            if len(f) < 6:
                raise MalformedInputError("a .fam line needs 6 columns", path=fam, line=n)
            fam_ids.append(f[1])
    try:
        ob = open_bed(bed, iid_count=len(fam_ids), sid_count=len(pos), num_threads=None)
    except Exception as exc:
        raise MalformedInputError(f"cannot open the .bed file ({exc})", path=bed) from exc
    if samples:
        missing = [s for s in samples if s not in fam_ids]
        if missing:
            raise InconsistentInputError(
                f"sample(s) not in the .fam: {', '.join(missing[:10])}", path=fam)
        wanted = set(samples)
        sel = np.array([i for i, s in enumerate(fam_ids) if s in wanted], dtype=np.int64)
    else:
        sel = np.arange(len(fam_ids), dtype=np.int64)
    all_samples = len(sel) == len(fam_ids)
    # plink2 convention for .bim: A1 = ALT (counted), A2 = REF
    ref_arr = np.array(a2, dtype=object)
    alt_arr = np.array(a1, dtype=object)
    multi = pd.DataFrame({"c": np.asarray(chrom, dtype=object),
                          "p": np.asarray(pos, dtype=np.int64)}).duplicated(
        keep=False).to_numpy(bool)

    def read(rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.empty((0, len(sel)), dtype=np.float64)
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        cols: Any = srt
        if srt[-1] - srt[0] + 1 == len(srt) and (np.diff(srt) == 1).all():
            cols = slice(int(srt[0]), int(srt[-1]) + 1)
        rows_sel: Any = slice(None) if all_samples else sel
        # sites × samples in Fortran order of samples × sites: no transpose copy
        x = ob.read(index=np.s_[rows_sel, cols], dtype="float64", order="F")
        if (order == np.arange(len(order))).all():
            return x.T
        out = np.empty((len(rows), len(sel)), dtype=np.float64)
        out[order] = x.T
        return out

    return TargetGenotypes(
        path=bed, samples=[fam_ids[i] for i in sel], chrom=np.array(chrom, dtype=object),
        pos=np.array(pos, dtype=np.int64), ref=ref_arr, alt=alt_arr,
        ids=np.array(ids, dtype=object), multiallelic=multi, build=build,
        read_dosage=read, kind="plink",
        packed=PackedBed(path=bed, n_samples=len(fam_ids), n_variants=len(pos),
                         samples=None if all_samples else sel))


def load_target(
    path: str | Path, samples: Sequence[str] | None = None, build: str | None = None,
    dosage_field: str | None = None,
) -> TargetGenotypes:
    """Open target genotypes for scoring: VCF/BCF, a PLINK 1 ``.bed/.bim/.fam`` set, or a
    VCF Zarr cohort store (``genoma cohort import``; read in chunks through Dask).

    Parameters
    ----------
    path
        A VCF/BCF file, a ``.bed`` file, the PLINK prefix (``data`` for ``data.bed``), or a
        VCF Zarr store directory.
    samples
        Restrict to these samples.
    build
        The target's genome build when the file cannot tell (a VCF's contig lengths are
        checked against it; a PLINK fileset carries no build).
    dosage_field
        ``"DS"`` to use VCF ``FORMAT/DS`` ALT dosages (imputed data) where a bi-allelic
        record has them, hard calls (GT) elsewhere; ``None`` for hard calls only.

    Returns
    -------
    TargetGenotypes

    Raises
    ------
    InputMissingError
        No such file (exit 3).
    MalformedInputError
        Malformed VCF / .bim / .fam (exit 4).
    InconsistentInputError
        Samples absent or build contradicted by the header (exit 5).
    """
    p = Path(path)
    bed = p if p.suffix == ".bed" else p.with_name(p.name + ".bed")
    if bed.is_file():
        return _plink_target(bed, samples, build)
    if p.is_dir():
        return _vcz_target(p, samples, build)
    if not p.exists():
        raise InputMissingError("target genotypes not found (VCF, BCF or PLINK .bed)", path=p)
    return _vcf_target(p, samples, build, dosage_field)


def read_pcs(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read a principal-components table (pgsc_calc / fraposa ``.pcs``: ``FID IID PC1…``).

    Returns
    -------
    tuple
        Sample ids (``IID``) and a ``(n_samples, n_pcs)`` float array.

    Raises
    ------
    InputMissingError, MalformedInputError
        Missing file; no ``IID``/``PC1`` columns or a non-numeric value (names the line).
    """
    p = Path(path)
    if not p.is_file():
        raise InputMissingError("PC file not found", path=p)
    ids: list[str] = []
    vals: list[list[float]] = []
    with _open_text(p) as fh:
        head = fh.readline().rstrip("\r\n").lstrip("#").split("\t")
        if "IID" not in head or "PC1" not in head:
            raise MalformedInputError("a PC table needs IID and PC1… columns", path=p, line=1)
        ii = head.index("IID")
        pcs = [k for k, c in enumerate(head) if re.fullmatch(r"PC\d+", c)]
        for n, line in enumerate(fh, start=2):
            f = line.rstrip("\r\n").split("\t")
            if not line.strip():
                continue
            try:
                vals.append([float(f[k]) for k in pcs])
            except (ValueError, IndexError):
                raise MalformedInputError("non-numeric or missing PC value", path=p,
                                          line=n) from None
            ids.append(f[ii])
    return ids, np.array(vals, dtype=float).reshape(len(ids), len(pcs))
