"""VCF / BCF reading with cyvcf2 (htslib): plain, bgzip, BCF; samples; regions.

Two views of the same file:

* :meth:`VcfFile.calls` yields model objects (:class:`~genoma.model.genotype.Call`) for
  one sample: the single-patient path.
* :meth:`VcfFile.genotypes` returns :class:`SiteGenotypes`, NumPy arrays over many
  samples and sites, with multi-allelic records split into biallelic rows: the path for
  multi-sample work (pharmacogenomics on a panel, scoring), with no per-genotype Python
  objects.

The genome build is detected from the header's contig lengths (:func:`detect_build`);
a file without contig lengths has an unknown build, which the caller must supply.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genoma.errors import (
    InconsistentInputError,
    InputMissingError,
    MalformedInputError,
    UsageError,
)
from genoma.model.genotype import Call, Genotype
from genoma.model.variant import Variant, canonical_chrom, normalize_alleles

__all__ = [
    "CHROM1_LENGTHS",
    "SiteGenotypes",
    "VcfFile",
    "detect_build",
    "open_vcf",
    "read_sample_list",
]

#: Lengths of chromosome 1 (and others) that identify a build unambiguously.
CHROM1_LENGTHS = {
    "GRCh37": {"chr1": 249250621, "chr2": 243199373, "chr10": 135534747, "chr21": 48129895,
               "chr22": 51304566, "chrX": 155270560, "chr17": 81195210, "chr13": 115169878},
    "GRCh38": {"chr1": 248956422, "chr2": 242193529, "chr10": 133797422, "chr21": 46709983,
               "chr22": 50818468, "chrX": 156040895, "chr17": 83257441, "chr13": 114364328},
}


def detect_build(contigs: dict[str, int | None]) -> str | None:
    """Detect GRCh37 / GRCh38 from contig lengths (names with or without ``chr``).

    Returns
    -------
    str or None
        The build whose lengths match every recognised contig, or ``None`` when the
        header has no usable lengths.

    Raises
    ------
    InconsistentInputError
        When some contigs match one build and others the other.
    """
    votes: dict[str, int] = {"GRCh37": 0, "GRCh38": 0}
    for name, length in contigs.items():
        if not length:
            continue
        c = canonical_chrom(name)
        for build, table in CHROM1_LENGTHS.items():
            if table.get(c) == length:
                votes[build] += 1
    hits = [b for b, n in votes.items() if n]
    if len(hits) == 2:
        raise InconsistentInputError(
            f"header contig lengths match both GRCh37 ({votes['GRCh37']}) and GRCh38 "
            f"({votes['GRCh38']}) contigs"
        )
    return hits[0] if hits else None


@dataclass
class SiteGenotypes:
    """Genotypes of many samples at many biallelic sites (multi-allelics split).

    Attributes
    ----------
    samples
        Sample names, in column order.
    chrom
        Canonical chromosome per site (``chr10``), object array of shape ``(n_sites,)``.
    pos
        1-based positions (int64), after allele trimming.
    ref, alt
        Trimmed alleles per site (object arrays).
    gt
        Allele calls, int8 array ``(n_sites, n_samples, 2)``: 1 = this site's ALT,
        0 = REF, 2 = another ALT of the same record, -1 = missing; haploid calls store
        ``-2`` ("absent") in the second column.
    phased
        bool array ``(n_sites, n_samples)``.
    record_index
        0-based index of the source record (several rows share one after splitting).
    """

    samples: list[str]
    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    gt: np.ndarray
    phased: np.ndarray
    record_index: np.ndarray
    build: str | None = None
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    @property
    def n_sites(self) -> int:
        return int(self.pos.shape[0])

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    def dosage(self) -> np.ndarray:
        """ALT dosage per site and sample (float, NaN where any allele is missing)."""
        called = (self.gt >= 0) | (self.gt == -2)
        alt = (self.gt == 1).sum(axis=2).astype(float)
        alt[~called.all(axis=2)] = np.nan
        return alt


def read_sample_list(path: str | Path) -> list[str]:
    """Read a sample file as ``bcftools -S`` does: one name per line, ``#`` comments."""
    p = Path(path)
    if not p.is_file():
        raise InputMissingError("sample file not found", path=p)
    names = []
    for line in p.read_text().splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            names.append(s.split()[0])
    if not names:
        raise MalformedInputError("sample file lists no samples", path=p)
    return names


class VcfFile:
    """An open VCF/BCF file. Use :func:`open_vcf`."""

    def __init__(self, path: Path, samples: Sequence[str] | None, build: str | None):
        import cyvcf2

        self.path = path
        try:
            self._vcf = cyvcf2.VCF(str(path), gts012=False, lazy=True, threads=1)
        except (OSError, Exception) as exc:  # htslib raises OSError for a bad header
            raise MalformedInputError(f"not a readable VCF/BCF file ({exc})", path=path) from exc
        all_samples = list(self._vcf.samples)
        if samples:
            missing = [s for s in samples if s not in all_samples]
            if missing:
                raise InconsistentInputError(
                    f"sample(s) not in the VCF: {', '.join(missing[:10])}"
                    + (" …" if len(missing) > 10 else ""),
                    path=path,
                )
            self._vcf.set_samples(list(samples))
            # cyvcf2 keeps the file's order of the selected samples
            self.samples = [s for s in all_samples if s in set(samples)]
        else:
            self.samples = all_samples
        self.contigs: dict[str, int | None] = {}
        self.header_lines = 0
        for rec in self._vcf.header_iter():
            info = rec.info()
            if rec.type == "CONTIG":
                ln = info.get("length")
                self.contigs[info["ID"]] = int(ln) if ln and str(ln).isdigit() else None
        self.header_lines = self._vcf.raw_header.count("\n")
        detected = detect_build(self.contigs)
        if build and detected and build != detected:
            raise InconsistentInputError(
                f"the VCF header's contigs are {detected}, but {build} was requested", path=path
            )
        self.build: str | None = build or detected
        self._file_chroms = {canonical_chrom(c): c for c in self.contigs}

    # -- helpers ---------------------------------------------------------------------
    def _file_chrom(self, chrom: str) -> str:
        c = canonical_chrom(chrom)
        if c in self._file_chroms:
            return self._file_chroms[c]
        # no contig lines: guess the style from the first record
        return chrom

    def has_index(self) -> bool:
        p = str(self.path)
        return any(os.path.exists(p + ext) for ext in (".tbi", ".csi"))

    def _records(self, region: str | None):
        if region is None:
            yield from self._vcf
            return
        chrom, _, span = region.partition(":")
        fchrom = self._file_chrom(chrom)
        if self.has_index():
            q = fchrom + (":" + span if span else "")
            try:
                yield from self._vcf(q)
            except Exception:  # region on a contig the index does not know: no records
                return
            return
        # no index: scan and filter
        start, end = 1, 2**62
        if span:
            a, _, b = span.replace(",", "").partition("-")
            start, end = int(a), int(b) if b else 2**62
        target = canonical_chrom(chrom)
        for rec in self._vcf:
            if canonical_chrom(rec.CHROM) == target and start <= rec.POS <= end:
                yield rec

    def _require_build(self) -> str:
        if self.build is None:
            raise InconsistentInputError(
                "the genome build cannot be detected from the VCF header (no contig "
                "lengths); pass --build GRCh37 or --build GRCh38",
                path=self.path,
            )
        return self.build

    # -- single sample ---------------------------------------------------------------
    def calls(self, sample: str | None = None, region: str | None = None) -> Iterator[Call]:
        """Yield one sample's calls, multi-allelic records split and alleles trimmed.

        Reference-only records and hom-ref genotypes are *not* skipped: callers decide
        (a hom-ref call is information, e.g. for pharmacogenomics).
        """
        build = self._require_build()
        if sample is None:
            if len(self.samples) != 1:
                raise UsageError(
                    f"the VCF has {len(self.samples)} samples; choose one with -s",
                    path=self.path,
                )
            sample = self.samples[0]
        if sample not in self.samples:
            raise InconsistentInputError(f"sample {sample!r} not in the VCF", path=self.path)
        col = self.samples.index(sample)
        for i, rec in enumerate(self._records(region)):
            line = self.header_lines + i + 1 if region is None else None
            alts = [a for a in rec.ALT if a not in ("*", ".", "<NON_REF>", "<*>")]
            if not alts:
                continue
            g = rec.genotypes[col]
            raw, phased = g[:-1], bool(g[-1])
            filt = rec.FILTER or "PASS"
            ps = None
            for ai, alt in enumerate(rec.ALT, start=1):
                if alt in ("*", ".", "<NON_REF>", "<*>"):
                    continue
                try:
                    if alt.startswith("<"):
                        pos, ref, a = rec.POS, rec.REF, alt
                    else:
                        pos, ref, a = normalize_alleles(rec.POS, rec.REF.upper(), alt.upper())
                    v = Variant(chrom=rec.CHROM, pos=pos, ref=ref, alt=a, build=build,
                                id=rec.ID)
                except ValueError as exc:
                    raise MalformedInputError(
                        f"invalid record {rec.CHROM}:{rec.POS}: {exc}", path=self.path, line=line
                    ) from exc
                alleles = tuple(
                    None if x < 0 else (0 if x == 0 else (1 if x == ai else 2)) for x in raw
                )
                yield Call(
                    variant=v,
                    genotype=Genotype(alleles=alleles, phased=phased, phase_set=ps, filter=filt),
                    sample=sample,
                    line=line,
                )

    # -- many samples ----------------------------------------------------------------
    def genotypes(self, regions: Sequence[str] | None = None) -> SiteGenotypes:
        """Read genotypes of the selected samples at all sites (or in ``regions``).

        Parameters
        ----------
        regions
            ``chrom:start-end`` strings (1-based, inclusive; any chromosome naming).
            Overlapping regions may return a record twice; pass disjoint regions.
        """
        chroms: list[str] = []
        poss: list[int] = []
        refs: list[str] = []
        alts: list[str] = []
        ids: list[str] = []
        recidx: list[int] = []
        gts: list[np.ndarray] = []
        phs: list[np.ndarray] = []
        n = len(self.samples)
        k = 0
        for region in (regions or [None]):
            for rec in self._records(region):
                raw = rec.genotype.array()  # (n_samples, ploidy+1), int16, -1 missing
                if raw.shape[0] != n:
                    raise MalformedInputError(
                        f"record {rec.CHROM}:{rec.POS} has {raw.shape[0]} genotypes for "
                        f"{n} samples", path=self.path)
                ploidy = raw.shape[1] - 1
                alle = raw[:, : min(ploidy, 2)]
                phased = raw[:, -1].astype(bool)
                if ploidy == 1:
                    alle = np.concatenate([alle, np.full((n, 1), -2, dtype=alle.dtype)], axis=1)
                for ai, alt in enumerate(rec.ALT, start=1):
                    if alt in ("*", ".", "<NON_REF>", "<*>"):
                        continue
                    if alt.startswith("<"):
                        pos, ref, a = rec.POS, rec.REF.upper(), alt
                    else:
                        pos, ref, a = normalize_alleles(rec.POS, rec.REF.upper(), alt.upper())
                    g = np.where(alle == ai, 1, np.where(alle > 0, 2, alle)).astype(np.int8)
                    if len(rec.ALT) == 1:
                        g = alle.astype(np.int8)
                    chroms.append(canonical_chrom(rec.CHROM))
                    poss.append(pos)
                    refs.append(ref)
                    alts.append(a)
                    ids.append(rec.ID or "")
                    recidx.append(k)
                    gts.append(g)
                    phs.append(phased)
                k += 1
        if gts:
            gt = np.stack(gts)
            ph = np.stack(phs)
        else:
            gt = np.empty((0, n, 2), dtype=np.int8)
            ph = np.empty((0, n), dtype=bool)
        return SiteGenotypes(
            samples=list(self.samples),
            chrom=np.array(chroms, dtype=object),
            pos=np.array(poss, dtype=np.int64),
            ref=np.array(refs, dtype=object),
            alt=np.array(alts, dtype=object),
            gt=gt,
            phased=ph,
            record_index=np.array(recidx, dtype=np.int64),
            build=self.build,
            ids=np.array(ids, dtype=object),
        )

    def close(self) -> None:
        self._vcf.close()

    def __enter__(self) -> VcfFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_magic(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as g:
                first = g.read(5)
        except OSError as exc:
            raise MalformedInputError(f"corrupt gzip/bgzip file ({exc})", path=path) from exc
        if first.startswith(b"BCF"):
            return
        if not first.startswith(b"##"):
            raise MalformedInputError("not a VCF: the first line must be ##fileformat",
                                      path=path, line=1)
    elif head[:3] == b"BCF":
        return
    elif not head.startswith(b"##"):
        raise MalformedInputError("not a VCF: the first line must be ##fileformat",
                                  path=path, line=1)


def open_vcf(
    path: str | Path, samples: Sequence[str] | None = None, build: str | None = None
) -> VcfFile:
    """Open a VCF or BCF file.

    Parameters
    ----------
    path
        VCF (plain or bgzip) or BCF.
    samples
        Restrict to these samples (``-s`` / ``-S``); all when ``None``.
    build
        The genome build, when the header cannot tell (checked against the header when it
        can).

    Raises
    ------
    InputMissingError
        The file does not exist or cannot be read (exit 3).
    MalformedInputError
        The file is not a VCF/BCF or its header is malformed (exit 4).
    InconsistentInputError
        Requested samples are absent, or ``build`` contradicts the header (exit 5).
    """
    p = Path(path)
    if not p.exists():
        raise InputMissingError("VCF file not found", path=p)
    if not p.is_file() or not os.access(p, os.R_OK):
        raise InputMissingError("VCF file is not a readable file", path=p)
    _check_magic(p)
    return VcfFile(p, samples, build)
