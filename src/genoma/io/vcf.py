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

Malformed input
---------------
htslib reads fast but is lenient: on a bad line it may print a warning and go on, skip
data silently (extra sample columns), return a half-filled record, or stop with an
error that names no line. The reader therefore

1. checks cheap invariants of every record on the fast path (a record htslib could not
   fill, POS >= 1, REF and ALT alleles, GT allele indices within the ALT count, ploidy);
2. after a full pass over a text VCF, compares the number of data lines and of tab
   characters in the file with what htslib returned (one streaming pass in C over the
   decompressed text: catches rows with too many or too few columns that htslib
   tolerated);
3. when any of these fails, or htslib raises, re-scans the text with a strict line
   validator to name the 1-based line of the file (header included) and the problem.

htslib's own messages on stderr are silenced while genoma reads (they are replaced by the
:class:`~genoma.errors.MalformedInputError` that names file and line); errors are never
swallowed. Region queries on an indexed file check the records they return (step 1) but
not the column count of rows elsewhere in the file.
"""

from __future__ import annotations

import bisect
import ctypes
import gzip
import os
import re
import warnings
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genoma.errors import (
    InconsistentInputError,
    InputMissingError,
    MalformedInputError,
    UsageError,
)
from genoma.model.builds import CONTIG_LENGTHS
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

#: Contig lengths that identify a build (chrM is the same rCRS length in both: left out).
CHROM1_LENGTHS = {
    build: {c: n for c, n in table.items() if c != "chrM"}
    for build, table in CONTIG_LENGTHS.items()
}

#: ALT alleles that are not a variant allele of their own (skipped when splitting).
_NON_ALLELES = frozenset({"*", ".", "<NON_REF>", "<*>"})
_REF_RE = re.compile(r"[ACGTNacgtn]+")
_ALT_RE = re.compile(r"[ACGTNacgtn]+|\*|\.|<[^<>,\s]+>|[^\s,]*[\[\]][^\s,]*|\.[ACGTNacgtn]+|[ACGTNacgtn]+\.")
_CONTIG_RE = re.compile(r"^##contig=<(.*)>\s*$", re.MULTILINE)
_CHROM_RE = re.compile(r"[0-9A-Za-z!#$%&*+./:;=?@^_|~-]+")
_GT_RE = re.compile(r"(?:\.|\d+)(?:[/|](?:\.|\d+))*")
_BREAKEND = re.compile(r".*[\[\]].*|\.[ACGTNacgtn]+|[ACGTNacgtn]+\.")


def detect_build(contigs: dict[str, int | None]) -> str | None:
    """Detect GRCh37 / GRCh38 from contig lengths (names with or without ``chr``).

    Parameters
    ----------
    contigs
        Contig name → length (``None`` when the header gives none).

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
        """Number of (biallelic) rows."""
        return int(self.pos.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of sample columns."""
        return len(self.samples)

    def dosage(self) -> np.ndarray:
        """ALT dosage per site and sample (float, NaN where any allele is missing)."""
        called = (self.gt >= 0) | (self.gt == -2)
        alt = (self.gt == 1).sum(axis=2).astype(float)
        alt[~called.all(axis=2)] = np.nan
        return alt


def read_sample_list(path: str | Path) -> list[str]:
    """Read a sample file as ``bcftools -S`` does: one name per line, ``#`` comments.

    Raises
    ------
    InputMissingError
        The file does not exist.
    MalformedInputError
        The file lists no sample.
    """
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


# -- htslib verbosity -----------------------------------------------------------------

_HTS_LIB: Any = None


def _hts() -> Any:
    """The htslib linked into cyvcf2 (for its log level), or ``False`` if unreachable."""
    global _HTS_LIB
    if _HTS_LIB is None:
        try:
            from cyvcf2 import cyvcf2 as _mod

            lib = ctypes.CDLL(_mod.__file__)
            lib.hts_set_log_level.argtypes = [ctypes.c_int]
            lib.hts_get_log_level.restype = ctypes.c_int
            _HTS_LIB = lib
        except (OSError, AttributeError, ImportError):  # pragma: no cover - odd builds
            _HTS_LIB = False
    return _HTS_LIB


class _QuietHts:
    """Context manager: htslib log level OFF inside, restored on exit."""

    __slots__ = ("_prev",)

    def __enter__(self) -> None:
        lib = _hts()
        self._prev = None
        if lib:
            self._prev = lib.hts_get_log_level()
            lib.hts_set_log_level(0)

    def __exit__(self, *exc: object) -> None:
        lib = _hts()
        if lib and self._prev is not None:
            lib.hts_set_log_level(self._prev)


# -- text-level helpers (used on the slow path and for the totals check) ------------------


def _open_binary(path: Path) -> Any:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError)


@dataclass
class _TextHeader:
    n_lines: int
    n_bytes: int
    columns: list[str]


def _read_text_header(path: Path) -> _TextHeader:
    """Read the header of a text VCF: line count, byte count, ``#CHROM`` columns."""
    n = 0
    nbytes = 0
    try:
        with _open_binary(path) as fh:
            for raw in fh:
                n += 1
                nbytes += len(raw)
                line = raw.rstrip(b"\r\n")
                if n == 1 and not line.startswith(b"##fileformat=VCF"):
                    raise MalformedInputError(
                        "not a VCF: the first line must be ##fileformat=VCFv4.x", path=path,
                        line=1)
                if line.startswith(b"##"):
                    continue
                if line.startswith(b"#CHROM"):
                    cols = line[1:].decode("utf-8", "replace").split("\t")
                    fixed = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
                    if cols[:8] != fixed or (len(cols) > 8 and cols[8] != "FORMAT"):
                        raise MalformedInputError(
                            "the #CHROM header line must list CHROM POS ID REF ALT QUAL "
                            "FILTER INFO [FORMAT samples…] separated by tabs",
                            path=path, line=n)
                    return _TextHeader(n, nbytes, cols)
                raise MalformedInputError(
                    "header line does not start with '##' and no '#CHROM' line came before",
                    path=path, line=n)
    except _GZIP_ERRORS as exc:
        raise MalformedInputError(
            f"corrupt or truncated gzip data in the header ({exc})", path=path, line=n + 1
        ) from exc
    except UnicodeDecodeError as exc:  # pragma: no cover - decode uses 'replace'
        raise MalformedInputError(f"header is not text ({exc})", path=path, line=n) from exc
    raise MalformedInputError("no '#CHROM' header line", path=path, line=n or None)


def _line_problem(line: str, ncols: int) -> str | None:
    """The first problem of one VCF data line (without its newline), or ``None``."""
    if not line:
        return "empty line"
    if line.startswith("#"):
        return "header line after the #CHROM line"
    f = line.split("\t")
    if len(f) != ncols:
        return (f"expected {ncols} tab-separated columns (from the #CHROM line), "
                f"found {len(f)}")
    chrom, pos, _id, ref, alt, qual = f[:6]
    if not _CHROM_RE.fullmatch(chrom):
        return f"invalid CHROM {chrom!r} (empty, or characters not allowed in a contig name)"
    if not pos.isdigit():
        return f"POS {pos!r} is not a positive integer"
    if int(pos) < 1:
        return f"POS must be >= 1, got {pos}"
    if not _REF_RE.fullmatch(ref):
        return f"REF {ref!r} has invalid bases (A, C, G, T, N expected)"
    alts = [] if alt == "." else alt.split(",")
    for a in alts:
        if not _ALT_RE.fullmatch(a):
            return f"invalid ALT allele {a!r}"
        if a.upper() == ref.upper():
            return f"ALT {a!r} is identical to REF"
    if qual != ".":
        try:
            float(qual)
        except ValueError:
            return f"QUAL {qual!r} is not a number"
    if ncols > 8:
        keys = f[8].split(":")
        if "GT" in keys and keys[0] != "GT":
            return "GT must be the first FORMAT key"
        if keys[0] == "GT":
            n_alt = len(alts)
            for k, sample in enumerate(f[9:]):
                gt = sample.split(":", 1)[0]
                if not _GT_RE.fullmatch(gt):
                    return f"bad GT {gt!r} in sample column {k + 1}"
                for a in re.split(r"[/|]", gt):
                    if a != "." and int(a) > n_alt:
                        return (f"GT {gt!r} in sample column {k + 1} refers to allele {a} "
                                f"but the record has {n_alt} ALT allele(s)")
        for k, sample in enumerate(f[9:]):
            if sample.count(":") + 1 > len(keys):
                return f"sample column {k + 1} has more fields than FORMAT {f[8]!r}"
    return None


# -- the reader -------------------------------------------------------------------------


class VcfFile:
    """An open VCF/BCF file. Use :func:`open_vcf`.

    Attributes
    ----------
    path
        The file.
    samples
        The selected samples, in the file's order.
    contigs
        Header contigs and their lengths.
    build
        ``GRCh37`` / ``GRCh38`` (given or detected), or ``None`` when unknown.
    header_lines
        Number of header lines of a text VCF (``None`` for BCF).
    """

    def __init__(self, path: Path, samples: Sequence[str] | None, build: str | None):
        self.path = path
        self.is_bcf = _is_bcf(path)
        self._text_header: _TextHeader | None = None if self.is_bcf else _read_text_header(path)
        self._vcf = self._open_reader()
        self._fresh = True
        self._selected: list[str] | None = None
        all_samples = list(self._vcf.samples)
        if samples:
            missing = [s for s in samples if s not in all_samples]
            if missing:
                raise InconsistentInputError(
                    f"sample(s) not in the VCF: {', '.join(missing[:10])}"
                    + (" …" if len(missing) > 10 else ""),
                    path=path,
                )
            wanted = set(samples)
            self._selected = [s for s in all_samples if s in wanted]
            self._vcf.set_samples(self._selected)
            # cyvcf2 keeps the file's order of the selected samples
            self.samples = [s for s in all_samples if s in wanted]
        else:
            self.samples = all_samples
        # cyvcf2's header_iter() drops contig lengths: read them from the raw header
        self.contigs: dict[str, int | None] = {}
        for m in _CONTIG_RE.finditer(self._vcf.raw_header):
            body = m.group(1)
            cid = re.search(r"(?:^|,)ID=([^,>]+)", body)
            if cid:
                ln = re.search(r"(?:^|,)length=(\d+)", body)
                self.contigs[cid.group(1)] = int(ln.group(1)) if ln else None
        self.header_lines: int | None = (
            self._text_header.n_lines if self._text_header is not None else None)
        detected = detect_build(self.contigs)
        if build and detected and build != detected:
            raise InconsistentInputError(
                f"the VCF header's contigs are {detected}, but {build} was requested", path=path
            )
        self.build: str | None = build or detected
        self._file_chroms = {canonical_chrom(c): c for c in self.contigs}
        self._chrom_ok: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------------
    def _open_reader(self) -> Any:
        import cyvcf2

        try:
            with _QuietHts():
                vcf = cyvcf2.VCF(str(self.path), gts012=False, lazy=True, threads=1)
        except Exception as exc:  # htslib raises OSError (or Exception) for a bad header
            raise MalformedInputError(f"not a readable VCF/BCF file ({exc})",
                                      path=self.path) from exc
        if getattr(self, "_selected", None) is not None:
            vcf.set_samples(self._selected)
        return vcf

    def _full_pass_reader(self) -> Any:
        """A reader positioned at the first record (cyvcf2 readers are one-pass)."""
        if not self._fresh:
            self._vcf.close()
            self._vcf = self._open_reader()
        self._fresh = False
        return self._vcf

    def has_index(self) -> bool:
        """True when a ``.tbi`` or ``.csi`` index sits beside the file."""
        p = str(self.path)
        return any(os.path.exists(p + ext) for ext in (".tbi", ".csi"))

    def _line_of(self, index: int | None) -> int | None:
        if index is None or self.header_lines is None:
            return None
        return self.header_lines + index + 1

    def _fail(self, problem: str, index: int | None, where: str = "") -> MalformedInputError:
        """Build the error for a bad record: locate its line by re-scanning the text."""
        if not self.is_bcf:
            found = self._scan_for_problem(index)
            if found is not None:
                line, msg = found
                return MalformedInputError(msg, path=self.path, line=line)
        line = self._line_of(index)
        if self.is_bcf and index is not None:
            where = f"{where}, " if where else ""
            where += f"BCF record {index + 1}"
        return MalformedInputError(problem + (f" ({where})" if where else ""),
                                   path=self.path, line=line)

    def _scan_for_problem(self, index: int | None) -> tuple[int, str] | None:
        """Re-scan the text for a bad line: record ``index`` only, or the first of all.

        Raises
        ------
        MalformedInputError
            When the gzip stream itself is corrupt or truncated.
        """
        th = self._text_header
        assert th is not None
        ncols = len(th.columns)
        first = 0 if index is None else index
        lineno = th.n_lines
        try:
            with _open_binary(self.path) as fh:
                for _ in range(th.n_lines):
                    fh.readline()
                for k, raw in enumerate(fh):
                    lineno += 1
                    if k < first or (index is not None and k > index):
                        continue  # keep reading: a corrupt gzip stream shows further on
                    text = raw.decode("utf-8", "replace").rstrip("\r\n")
                    msg = _line_problem(text, ncols)
                    if msg is not None:
                        return lineno, msg
        except _GZIP_ERRORS as exc:
            return lineno + 1, f"corrupt or truncated gzip data ({exc})"
        return None

    def _count_text(self) -> tuple[int, int] | BaseException:
        """Data lines and tabs of the text after the header (or the gzip error).

        Runs in a worker thread beside htslib's pass (zlib releases the GIL).
        """
        th = self._text_header
        assert th is not None
        newlines = tabs = 0
        last = b"\n"
        try:
            with _open_binary(self.path) as fh:
                fh.seek(th.n_bytes)
                while True:
                    chunk = fh.read(1 << 22)
                    if not chunk:
                        break
                    newlines += chunk.count(b"\n")
                    tabs += chunk.count(b"\t")
                    last = chunk[-1:]
        except _GZIP_ERRORS as exc:
            return exc
        return newlines + (0 if last == b"\n" else 1), tabs

    def _start_count(self) -> Future[tuple[int, int] | BaseException] | None:
        if self._text_header is None:
            return None
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genoma-vcf-count")
        fut = pool.submit(self._count_text)
        pool.shutdown(wait=False)
        return fut

    def _check_totals(self, n_records: int,
                      counted: Future[tuple[int, int] | BaseException] | None) -> None:
        """Compare data-line and tab counts of the text with what htslib returned."""
        th = self._text_header
        if th is None or counted is None:
            return
        ncols = len(th.columns)
        res = counted.result()
        if isinstance(res, BaseException):
            raise self._fail(f"corrupt or truncated gzip data ({res})", None) from res
        n_lines, tabs = res
        if n_lines != n_records or tabs != n_lines * (ncols - 1):
            raise self._fail(
                f"htslib read {n_records} records but the file has {n_lines} data lines "
                f"with {tabs} tabs ({ncols} columns expected per line)", None)

    def _check_record(self, rec: Any, index: int | None) -> None:
        """Cheap invariants of one record (fast path); raise when one fails."""
        chrom = rec.CHROM
        if chrom not in self._chrom_ok:
            if not chrom or any(c.isspace() for c in chrom):
                raise self._fail(f"invalid CHROM {chrom!r}", index)
            self._chrom_ok[chrom] = canonical_chrom(chrom)
        if rec.end <= rec.start:  # htslib could not fill the record (no REF)
            raise self._fail("a record htslib could not parse (too few columns?)", index)
        if rec.start < 0:
            raise self._fail(f"POS must be >= 1, got {rec.POS}", index, f"{chrom}:{rec.POS}")
        ref = rec.REF
        if not _REF_RE.fullmatch(ref):
            raise self._fail(f"REF {ref!r} has invalid bases (A, C, G, T, N expected)",
                             index, f"{chrom}:{rec.POS}")
        ref_u = ref.upper()
        for a in rec.ALT:
            if not _ALT_RE.fullmatch(a):
                raise self._fail(f"invalid ALT allele {a!r}", index, f"{chrom}:{rec.POS}")
            if a.upper() == ref_u:
                raise self._fail(f"ALT {a!r} is identical to REF", index, f"{chrom}:{rec.POS}")

    def _gt_array(self, rec: Any, index: int | None) -> np.ndarray | None:
        """cyvcf2's ``(n_samples, ploidy + 1)`` genotype array, checked; None without GT."""
        n = len(self.samples)
        if n == 0:
            return None
        try:
            raw = rec.genotype.array()
        except Exception:
            # no GT on this record (a missing FORMAT column is caught by the totals
            # check). Do not look at rec.FORMAT: cyvcf2 0.35 crashes on some records.
            return None
        if raw.shape[0] != n:
            raise self._fail(f"{raw.shape[0]} genotypes for {n} samples", index,
                             f"{rec.CHROM}:{rec.POS}")
        ploidy = raw.shape[1] - 1
        if ploidy > 2:
            raise self._fail(f"ploidy {ploidy} is not supported (haploid and diploid only)",
                             index, f"{rec.CHROM}:{rec.POS}")
        n_alt = len(rec.ALT)
        if ploidy and int(raw[:, :ploidy].max()) > n_alt:
            raise self._fail(f"a GT refers to allele {int(raw[:, :ploidy].max())} but the "
                             f"record has {n_alt} ALT allele(s)", index,
                             f"{rec.CHROM}:{rec.POS}")
        return raw

    def _parse_region(self, region: str) -> tuple[str, int, int | None]:
        chrom, _, span = region.strip().partition(":")
        if not chrom:
            raise UsageError(f"bad region {region!r} (expected chrom[:start[-end]])")
        start, end = 1, None
        if span:
            a, _, b = span.replace(",", "").partition("-")
            try:
                start = int(a) if a else 1
                end = int(b) if b else None
            except ValueError:
                raise UsageError(
                    f"bad region {region!r} (expected chrom[:start[-end]])") from None
            if start < 1 or (end is not None and end < start):
                raise UsageError(f"bad region {region!r} (1-based, start <= end)")
        return chrom, start, end

    @staticmethod
    def _quiet(it: Iterator[Any], batch: int = 256) -> Iterator[Any]:
        """``it``'s records, read ``batch`` at a time with htslib's log and cyvcf2's
        "no intervals found" warning silenced (entered once per batch, not per record:
        the switch costs ≈ 13 µs). Records are yielded outside the silenced section, so
        the caller's own logging is never swallowed; a read error is raised after the
        records read before it, where a record-by-record read would raise it."""
        while True:
            buf: list[Any] = []
            err: Exception | None = None
            done = False
            with _QuietHts(), warnings.catch_warnings():
                # cyvcf2 warns "no intervals found" for a region without records: not news
                warnings.filterwarnings("ignore", message="no intervals found",
                                        category=UserWarning)
                try:
                    for _ in range(batch):
                        rec = next(it, None)
                        if rec is None:
                            done = True
                            break
                        buf.append(rec)
                except Exception as exc:  # re-raised below, after the records before it
                    err = exc
            yield from buf
            if err is not None:
                raise err
            if done:
                return

    def _region_index(self, regions: Sequence[str]) -> dict[str, tuple[list[int], list[int]]]:
        """Regions merged per canonical chromosome: sorted, disjoint half-open intervals."""
        spans: dict[str, list[tuple[int, int]]] = {}
        for region in regions:
            chrom, start, end = self._parse_region(region)
            spans.setdefault(canonical_chrom(chrom), []).append(
                (start - 1, end if end is not None else 2**62))
        out: dict[str, tuple[list[int], list[int]]] = {}
        for c, ivs in spans.items():
            starts: list[int] = []
            ends: list[int] = []
            for s0, e1 in sorted(ivs):
                if starts and s0 <= ends[-1]:
                    ends[-1] = max(ends[-1], e1)
                else:
                    starts.append(s0)
                    ends.append(e1)
            out[c] = (starts, ends)
        return out

    def _records_in(self, regions: Sequence[str] | None) -> Iterator[tuple[Any, int | None]]:
        """Records overlapping any of ``regions`` (all records when ``None``), each once.

        With an index, one query per region; without one, a single pass over the file
        (not one pass per region).
        """
        if not regions:
            yield from self._records(None)
        elif self.has_index():
            for region in regions:
                yield from self._records(region)
        else:
            yield from self._records(None, self._region_index(regions))

    def _records(
        self, region: str | None,
        targets: dict[str, tuple[list[int], list[int]]] | None = None,
    ) -> Iterator[tuple[Any, int | None]]:
        """Yield ``(record, index)`` — index = 0-based record number in a full pass.

        ``targets`` (from :meth:`_region_index`) filters a full pass to several regions.
        """
        if region is None or not self.has_index():
            if region is not None:
                targets = self._region_index([region])
            canon: dict[str, str] = {}
            it = self._quiet(iter(self._full_pass_reader()))
            counted = self._start_count()
            i = -1
            while True:
                try:
                    rec = next(it, None)
                except Exception as exc:
                    raise self._fail(f"htslib could not read a record ({exc})",
                                     i + 1) from exc
                if rec is None:
                    break
                i += 1
                self._check_record(rec, i)
                if targets is not None:
                    c = canon.get(rec.CHROM)
                    if c is None:
                        c = canon[rec.CHROM] = canonical_chrom(rec.CHROM)
                    iv = targets.get(c)
                    if iv is None:
                        continue
                    j = bisect.bisect_left(iv[0], rec.end) - 1
                    if j < 0 or iv[1][j] <= rec.start:
                        continue
                yield rec, i
            self._check_totals(i + 1, counted)
            return
        chrom, start, end = self._parse_region(region)
        c = canonical_chrom(chrom)
        names = list(self._vcf.seqnames)
        fchrom = next((n for n in names if canonical_chrom(n) == c), None)
        if fchrom is None:
            return  # no record on this contig in the index
        q = f"{fchrom}:{start}-{end}" if end is not None else f"{fchrom}:{start}"
        self._fresh = False
        with _QuietHts():
            it = self._quiet(iter(self._vcf(q)))
        while True:
            try:
                rec = next(it, None)
            except Exception as exc:
                raise self._fail(f"htslib could not read a record in {region} ({exc})",
                                 None) from exc
            if rec is None:
                return
            self._check_record(rec, None)
            yield rec, None

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
        (a hom-ref call is information, e.g. for pharmacogenomics). ALT alleles ``*``,
        ``<NON_REF>``, ``<*>`` and breakends are skipped; in the genotype of each split
        row, 1 is this row's ALT and 2 any other ALT of the record.

        Parameters
        ----------
        sample
            The sample (required when the file has several).
        region
            ``chrom:start-end`` (1-based, inclusive, any chromosome naming); records
            overlapping it are returned.

        Raises
        ------
        InconsistentInputError
            Unknown build or sample (exit 5).
        UsageError
            Several samples and none chosen (exit 2).
        MalformedInputError
            A malformed record, naming file and line (exit 4).
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
        for rec, idx in self._records(region):
            line = self._line_of(idx)
            raw = self._gt_array(rec, idx)
            alts = rec.ALT
            if not any(a not in _NON_ALLELES and not _BREAKEND.fullmatch(a) for a in alts):
                continue
            if raw is None:
                alleles_raw: tuple[int, ...] = (-1, -1)
                phased = False
            else:
                row = raw[col]
                alleles_raw = tuple(int(x) for x in row[:-1] if x != -2)
                phased = bool(row[-1]) and len(alleles_raw) > 1
            filt = rec.FILTER or "PASS"
            ref_u = rec.REF.upper()
            for ai, alt in enumerate(alts, start=1):
                if alt in _NON_ALLELES or _BREAKEND.fullmatch(alt):
                    continue
                if alt.startswith("<"):
                    pos, ref, a = rec.POS, ref_u, alt
                else:
                    pos, ref, a = normalize_alleles(rec.POS, ref_u, alt.upper())
                try:
                    v = Variant(chrom=rec.CHROM, pos=pos, ref=ref, alt=a, build=build,
                                id=rec.ID)
                except ValueError as exc:
                    raise MalformedInputError(
                        f"invalid record {rec.CHROM}:{rec.POS}: {exc}", path=self.path,
                        line=line) from exc
                alleles = tuple(
                    None if x < 0 else (0 if x == 0 else (1 if x == ai else 2))
                    for x in alleles_raw
                )
                yield Call(
                    variant=v,
                    genotype=Genotype(alleles=alleles, phased=phased, filter=filt),
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
            Records overlapping a region are returned; overlapping regions may return a
            record twice, so pass disjoint regions.

        Returns
        -------
        SiteGenotypes
            One row per ALT allele (``*``, ``<NON_REF>``, ``<*>`` and breakends skipped),
            alleles trimmed, genotypes recoded per row (see :class:`SiteGenotypes`).

        Raises
        ------
        MalformedInputError
            A malformed record, naming file and line (exit 4).
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
        missing = np.full((n, 2), -1, dtype=np.int8)
        unphased = np.zeros(n, dtype=bool)
        k = 0
        for rec, idx in self._records_in(regions):
            raw = self._gt_array(rec, idx)
            rec_alts = rec.ALT
            if raw is None:
                alle = missing
                phased = unphased
            else:
                ploidy = raw.shape[1] - 1
                if ploidy == 2:
                    alle = raw[:, :2].astype(np.int8)
                elif ploidy == 1:
                    alle = np.concatenate(
                        [raw[:, :1], np.full((n, 1), -2, dtype=raw.dtype)], axis=1
                    ).astype(np.int8)
                else:  # no GT values at all
                    alle = missing
                phased = raw[:, -1].astype(bool)
                phased &= alle[:, 1] != -2  # a haploid call has no phase
            chrom = self._chrom_ok.get(rec.CHROM) or canonical_chrom(rec.CHROM)
            ref_u = rec.REF.upper()
            rid = rec.ID or ""
            for ai, alt in enumerate(rec_alts, start=1):
                if alt in _NON_ALLELES or _BREAKEND.fullmatch(alt):
                    continue
                if alt.startswith("<"):
                    pos, ref, a = rec.POS, ref_u, alt
                else:
                    pos, ref, a = normalize_alleles(rec.POS, ref_u, alt.upper())
                if len(rec_alts) == 1:
                    g = alle
                else:
                    g = np.where(alle == ai, 1, np.where(alle > 0, 2, alle)).astype(np.int8)
                chroms.append(chrom)
                poss.append(pos)
                refs.append(ref)
                alts.append(a)
                ids.append(rid)
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
        """Close the file."""
        self._vcf.close()

    def __enter__(self) -> VcfFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_bcf(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:3] == b"BCF":
        return True
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as g:
                return g.read(3) == b"BCF"
        except _GZIP_ERRORS:
            return False
    return False


def _check_magic(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as g:
                first = g.read(5)
        except _GZIP_ERRORS as exc:
            raise MalformedInputError(f"corrupt gzip/bgzip file ({exc})", path=path,
                                      line=1) from exc
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
        VCF (plain, gzip or bgzip) or BCF.
    samples
        Restrict to these samples (``-s`` / ``-S``); all when ``None``.
    build
        The genome build, when the header cannot tell (checked against the header when it
        can).

    Returns
    -------
    VcfFile
        The open file (a context manager).

    Raises
    ------
    InputMissingError
        The file does not exist or cannot be read (exit 3).
    MalformedInputError
        The file is not a VCF/BCF, its gzip stream is corrupt or its header is malformed
        (exit 4).
    InconsistentInputError
        Requested samples are absent, or ``build`` contradicts the header (exit 5).
    """
    p = Path(path)
    if not p.exists():
        raise InputMissingError("VCF file not found", path=p)
    if not p.is_file() or not os.access(p, os.R_OK):
        raise InputMissingError("VCF file is not a readable file", path=p)
    try:
        _check_magic(p)
    except PermissionError as exc:  # pragma: no cover - root ignores modes
        raise InputMissingError(f"VCF file is not readable ({exc})", path=p) from exc
    return VcfFile(p, samples, build)
