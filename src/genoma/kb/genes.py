"""Genome-wide gene coordinates: which genes a position or a range falls in.

Sources
-------
``genes`` (embedded, GRCh38)
    Ensembl BioMart GRCh38 gene coordinates shipped in PyPI ``hgfind``
    (``hgfind/biomart-gene-coordinates.txt``, MIT). Primary chromosomes only (alt
    scaffolds, patches and the MHC haplotypes are dropped); rows repeated by BioMart
    once per synonym are merged into one gene with its synonyms; genes without a
    symbol are dropped (the file carries no stable identifier for them).
``gencode-grch38``, ``gencode-grch37``, ``mane-grch38`` (installable)
    GENCODE v46 basic annotation GFF3 (GRCh38, and the GRCh37 lift-over), and the MANE
    Select GFF, fetched by ``genoma kb install NAME``; parsed once (streaming, gzip)
    into a compact ``genes.npz`` table next to the download.

Which table answers a query: for GRCh38 an installed ``gencode-grch38`` if present,
else the embedded ``genes``; for GRCh37 ``gencode-grch37``, which must be installed
(otherwise :class:`~genoma.errors.InconsistentInputError` names the fix). Use
:func:`gene_source` to record the source used in provenance.

Coordinates are 1-based, closed (``start``..``end``), chromosomes ``chr1``…``chrM``.
Overlap queries use a sorted interval index (NumPy ``searchsorted`` over starts and
the running maximum of ends), vectorised over many query positions.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import itertools
import os
import re
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genoma.errors import InconsistentInputError, KnowledgeError, MalformedInputError
from genoma.kb.base import KnowledgeSource, Release, get_source, register
from genoma.kb.install import InstalledSource, file_mode
from genoma.model.variant import canonical_chrom

__all__ = [
    "Gene",
    "GeneTable",
    "annotate_positions",
    "gene",
    "gene_source",
    "gene_table",
    "genes_at",
    "genes_in",
    "overlaps",
    "parse_gff3",
]

PRIMARY = tuple([f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY", "chrM"])
_PRIMARY_SET = frozenset(PRIMARY)
_REFSEQ_CHROM = re.compile(r"^NC_0+(\d+)\.\d+$")
COLUMNS = ("chrom", "start", "end", "strand", "symbol", "gene_id", "hgnc_id", "biotype", "synonyms")


@dataclass(frozen=True)
class Gene:
    """One gene locus.

    Attributes
    ----------
    symbol
        HGNC symbol (or the stable gene id when the source gives no symbol).
    chrom
        ``chr1`` … ``chrM``.
    start, end
        1-based, closed coordinates of the gene span.
    strand
        ``+1`` or ``-1`` (``0`` when unknown).
    ids
        Identifiers the source gives: ``ensembl`` (``ENSG…`` with version),
        ``hgnc`` (``HGNC:…``), ``ncbi`` (Gene ID).
    biotype
        ``protein_coding``, ``lncRNA`` … (empty when the source gives none).
    synonyms
        Other symbols of the gene.
    """

    symbol: str
    chrom: str
    start: int
    end: int
    strand: int
    ids: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    biotype: str = ""
    synonyms: tuple[str, ...] = ()


class GeneTable:
    """Column arrays of genes with an interval index per chromosome.

    Parameters
    ----------
    columns
        Arrays named as :data:`COLUMNS` (``start``/``end`` 1-based closed, int64;
        ``strand`` int8; the rest strings; ``synonyms`` ``;``-separated).
    build, source, version
        What the table describes.
    """

    def __init__(self, columns: dict[str, np.ndarray], build: str, source: str, version: str):
        order = np.lexsort((columns["end"], columns["start"], columns["chrom"]))
        self.cols = {k: np.asarray(columns[k])[order] for k in COLUMNS}
        self.build = build
        self.source = source
        self.version = version
        chrom = self.cols["chrom"]
        self._span: dict[str, tuple[int, int]] = {}
        self._cummax_end = np.empty(len(chrom), dtype=np.int64)
        if len(chrom):
            change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
            bounds = np.concatenate([[0], change, [len(chrom)]])
            for a, b in itertools.pairwise(bounds):
                self._span[str(chrom[a])] = (int(a), int(b))
                self._cummax_end[a:b] = np.maximum.accumulate(self.cols["end"][a:b])
        self._by_symbol: dict[str, list[int]] | None = None
        self._by_synonym: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.cols["chrom"])

    @property
    def chromosomes(self) -> list[str]:
        """Chromosomes present, in table order."""
        return list(self._span)

    def row(self, i: int) -> Gene:
        """Gene at row ``i``."""
        c = self.cols
        ids = {}
        if c["gene_id"][i]:
            key = "ncbi" if str(c["gene_id"][i]).isdigit() else "ensembl"
            ids[key] = str(c["gene_id"][i])
        if c["hgnc_id"][i]:
            ids["hgnc"] = str(c["hgnc_id"][i])
        syn = str(c["synonyms"][i])
        return Gene(
            symbol=str(c["symbol"][i]),
            chrom=str(c["chrom"][i]),
            start=int(c["start"][i]),
            end=int(c["end"][i]),
            strand=int(c["strand"][i]),
            ids=ids,
            biotype=str(c["biotype"][i]),
            synonyms=tuple(s for s in syn.split(";") if s),
        )

    def overlaps(
        self, chroms: Iterable[str] | np.ndarray, starts: np.ndarray, ends: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """All (query, gene) pairs whose intervals overlap, vectorised.

        Parameters
        ----------
        chroms
            Chromosome of each query (any naming; canonicalised).
        starts, ends
            1-based closed query intervals (``ends`` defaults to ``starts``: points).

        Returns
        -------
        tuple of numpy.ndarray
            ``(query_index, gene_row)``, sorted by query then gene start.
        """
        chroms = np.asarray(list(chroms) if not isinstance(chroms, np.ndarray) else chroms)
        starts = np.asarray(starts, dtype=np.int64)
        ends = starts if ends is None else np.asarray(ends, dtype=np.int64)
        if not (len(chroms) == len(starts) == len(ends)):
            raise ValueError("chroms, starts and ends must have the same length")
        q_out: list[np.ndarray] = []
        g_out: list[np.ndarray] = []
        gstart, gend = self.cols["start"], self.cols["end"]
        uniq = np.unique(chroms) if len(chroms) else np.array([], dtype=str)
        for raw in uniq:
            span = self._span.get(canonical_chrom(str(raw)))
            if span is None:
                continue
            a, b = span
            qi = np.flatnonzero(chroms == raw)
            qs, qe = starts[qi], ends[qi]
            # candidates: genes with start <= qe (prefix) whose running max end >= qs
            hi = a + np.searchsorted(gstart[a:b], qe, side="right")
            lo = a + np.searchsorted(self._cummax_end[a:b], qs, side="left")
            n = np.maximum(hi - lo, 0)
            if not n.sum():
                continue
            rep_q = np.repeat(np.arange(len(qi)), n)
            offs = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            cand = np.repeat(lo, n) + offs
            keep = gend[cand] >= qs[rep_q]
            q_out.append(qi[rep_q[keep]])
            g_out.append(cand[keep])
        if not q_out:
            return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
        q = np.concatenate(q_out)
        g = np.concatenate(g_out)
        o = np.lexsort((g, q))
        return q[o], g[o]

    def at(self, chrom: str, pos: int) -> list[Gene]:
        """Genes containing a 1-based position."""
        return self.in_range(chrom, pos, pos)

    def in_range(self, chrom: str, start: int, end: int) -> list[Gene]:
        """Genes overlapping the 1-based closed range ``start..end``."""
        _, g = self.overlaps(np.array([chrom]), np.array([start]), np.array([end]))
        return [self.row(int(i)) for i in g]

    def _index(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        if self._by_symbol is None or self._by_synonym is None:
            by_sym: dict[str, list[int]] = {}
            by_syn: dict[str, list[int]] = {}
            for i, (s, syn) in enumerate(
                zip(self.cols["symbol"], self.cols["synonyms"], strict=True)
            ):
                by_sym.setdefault(str(s).upper(), []).append(i)
                for alias in str(syn).split(";"):
                    if alias:
                        by_syn.setdefault(alias.upper(), []).append(i)
            self._by_symbol, self._by_synonym = by_sym, by_syn
        return self._by_symbol, self._by_synonym

    def loci(self, symbol: str) -> list[Gene]:
        """Every locus with that symbol (e.g. both PAR copies, multi-copy RNA genes)."""
        by_sym, _ = self._index()
        return [self.row(i) for i in by_sym.get(symbol.upper(), [])]

    def gene(self, symbol: str) -> Gene:
        """The gene with that symbol (or a unique synonym).

        When a symbol has several loci the first on a primary chromosome in karyotype
        order is returned; :meth:`loci` gives all of them.

        Raises
        ------
        KnowledgeError
            When no gene has the symbol, or the synonym is ambiguous.
        """
        by_sym, by_syn = self._index()
        key = symbol.upper()
        rows = by_sym.get(key)
        if not rows:
            syn_rows = by_syn.get(key, [])
            names = {str(self.cols["symbol"][i]) for i in syn_rows}
            if len(names) == 1:
                rows = syn_rows
            elif names:
                raise KnowledgeError(
                    f"{symbol!r} is a synonym of several genes ({', '.join(sorted(names))}) "
                    f"in {self.source} {self.version}"
                )
            else:
                raise KnowledgeError(
                    f"no gene {symbol!r} in {self.source} {self.version} ({self.build})"
                )
        order = {c: k for k, c in enumerate(PRIMARY)}
        best = min(rows, key=lambda i: (order.get(str(self.cols["chrom"][i]), 99), i))
        return self.row(best)

    def to_npz(self, path: Path) -> None:
        """Write the table as a compact ``.npz`` (atomic rename)."""
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
        os.close(fd)
        try:
            meta = np.array([self.build, self.source, self.version])
            np.savez_compressed(tmp, __meta__=meta, **self.cols)
            os.chmod(tmp, file_mode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def from_npz(cls, path: Path) -> GeneTable:
        """Read a table written by :meth:`to_npz`."""
        with np.load(path, allow_pickle=False) as z:
            build, source, version = (str(x) for x in z["__meta__"])
            cols = {k: z[k] for k in COLUMNS}
        return cls(cols, build, source, version)


def _columns(rows: list[tuple]) -> dict[str, np.ndarray]:
    if not rows:
        return {
            k: np.array(
                [], dtype=np.int64 if k in ("start", "end") else np.int8 if k == "strand" else str
            )
            for k in COLUMNS
        }
    cols = list(zip(*rows, strict=True))
    out: dict[str, np.ndarray] = {}
    for k, vals in zip(COLUMNS, cols, strict=True):
        if k in ("start", "end"):
            out[k] = np.array(vals, dtype=np.int64)
        elif k == "strand":
            out[k] = np.array(vals, dtype=np.int8)
        else:
            out[k] = np.array(vals, dtype=str)
    return out


# ---------------------------------------------------------------------------- hgfind


def _hgfind_file() -> Path:
    try:
        dist = importlib.metadata.distribution("hgfind")
    except importlib.metadata.PackageNotFoundError as exc:
        raise KnowledgeError(
            "the hgfind package (embedded gene coordinates) is not installed"
        ) from exc
    return Path(str(dist.locate_file("hgfind/biomart-gene-coordinates.txt")))


def parse_biomart(path: Path) -> dict[str, np.ndarray]:
    """Parse hgfind's BioMart export into gene-table columns (primary chromosomes).

    Raises
    ------
    MalformedInputError
        On a line without the 8 expected tab-separated fields or non-integer bounds.
    """
    genes: dict[tuple[str, int, int, int, str], set[str]] = {}
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if len(header) != 8 or header[0] != "Gene start (bp)":
            raise MalformedInputError("unexpected BioMart header", path=path, line=1)
        for lineno, line in enumerate(fh, start=2):
            f = line.rstrip("\n").split("\t")
            if len(f) != 8:
                raise MalformedInputError(
                    f"expected 8 fields, found {len(f)}", path=path, line=lineno
                )
            start, end, name, syn, wiki, uni, chrom, strand = (x.strip() for x in f)
            chrom = canonical_chrom(chrom)
            if not name or chrom not in _PRIMARY_SET:
                continue
            try:
                key = (chrom, int(start), int(end), int(strand), name)
            except ValueError as exc:
                raise MalformedInputError(
                    f"bad coordinates: {exc}", path=path, line=lineno
                ) from exc
            aliases = genes.setdefault(key, set())
            aliases.update(a for a in (syn, wiki, uni) if a and a != name)
    rows = [
        (c, s, e, st, n, "", "", "", ";".join(sorted(al))) for (c, s, e, st, n), al in genes.items()
    ]
    return _columns(rows)


#: Bumped when :func:`parse_biomart` changes what it produces (invalidates caches).
_BIOMART_CACHE_VERSION = 1


def _table_cache(path: Path) -> Path | None:
    """``<cache_dir>/genes/biomart-v<N>-<sha256 of the file>.npz`` (None: unreadable file)."""
    import hashlib

    from genoma.config import settings

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return (settings().cache_dir / "genes"
            / f"biomart-v{_BIOMART_CACHE_VERSION}-{h.hexdigest()[:32]}.npz")


@register
class HgfindGenes(KnowledgeSource):
    """Ensembl BioMart GRCh38 gene coordinates embedded through PyPI ``hgfind``."""

    name = "genes"
    title = "Gene coordinates (Ensembl BioMart, GRCh38)"
    license = "MIT (hgfind); Ensembl open data"
    source = "PyPI hgfind 1.0.0 (Ensembl BioMart export, https://www.ensembl.org/biomart)"
    builds = ("GRCh38",)
    embedded = True

    @property
    def version(self) -> str:
        try:
            return f"hgfind {importlib.metadata.version('hgfind')} (Ensembl BioMart GRCh38)"
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def files(self) -> list[Path]:
        return [_hgfind_file()]

    def _load(self) -> GeneTable:
        # parsed once per file content into the cache folder (0.36 s → ≈ 0.03 s)
        path = self.files()[0]
        cache = _table_cache(path)
        if cache is not None and cache.exists():
            try:
                return GeneTable.from_npz(cache)
            except (OSError, ValueError, KeyError):
                pass
        table = GeneTable(parse_biomart(path), "GRCh38", self.name, self.version)
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                table.to_npz(cache)
            except OSError:  # read-only home: the parse is only repeated
                pass
        return table

    def require_build(self, build: str) -> None:
        """Raise ``InconsistentInputError`` (naming the fix) for builds other than GRCh38."""
        if build not in self.builds:
            raise InconsistentInputError(
                f"knowledge source {self.name!r} ({self.version}) has gene coordinates for "
                f"GRCh38 only, but the input is {build}; run `genoma kb install "
                f"gencode-{build.lower()}` to add gene coordinates for {build}"
            )


# ---------------------------------------------------------------------------- GFF3


def _attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(";"):
        if "=" in part:
            k, _, v = part.partition("=")
            out[k.strip()] = urllib.parse.unquote(v.strip())
    return out


def _gff_chrom(seqid: str) -> str:
    m = _REFSEQ_CHROM.match(seqid)
    if m:
        n = int(m.group(1))
        seqid = {23: "X", 24: "Y", 12920: "M"}.get(n, str(n))
    return canonical_chrom(seqid)


def _is_gene_type(t: str) -> bool:
    return t == "gene" or t == "pseudogene" or t.endswith("_gene")


def _open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_gff3_genes(path: Path) -> Iterator[tuple]:
    """Stream gene rows (as :data:`COLUMNS` tuples) from a GFF3 file (plain or gzip).

    Understands GENCODE (``gene_name``, ``gene_type``, ``hgnc_id``), Ensembl
    (``Name``, ``biotype``, ``gene_id``), MANE and NCBI RefSeq (``gene``,
    ``gene_biotype``, ``Dbxref``; ``NC_`` sequence names) attributes. Only primary
    chromosomes are kept.

    Raises
    ------
    MalformedInputError
        On a feature line without 9 fields or with non-integer coordinates.
    """
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                if line.startswith("##FASTA"):
                    break
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) != 9:
                raise MalformedInputError(
                    f"GFF3 feature line has {len(f)} fields, expected 9", path=path, line=lineno
                )
            if not _is_gene_type(f[2]):
                continue
            chrom = _gff_chrom(f[0])
            if chrom not in _PRIMARY_SET:
                continue
            try:
                start, end = int(f[3]), int(f[4])
            except ValueError as exc:
                raise MalformedInputError(
                    f"bad coordinates: {exc}", path=path, line=lineno
                ) from exc
            a = _attrs(f[8])
            gene_id = a.get("gene_id") or a.get("ID", "")
            gene_id = gene_id.removeprefix("gene:").removeprefix("gene-")
            xrefs = dict(x.split(":", 1) for x in a.get("Dbxref", "").split(",") if ":" in x)
            if "GeneID" in xrefs and not gene_id.startswith("ENSG"):
                gene_id = xrefs["GeneID"]
            hgnc = a.get("hgnc_id") or xrefs.get("HGNC", "")
            if hgnc and not hgnc.startswith("HGNC:"):
                hgnc = "HGNC:" + hgnc.removeprefix("HGNC:")
            symbol = a.get("gene_name") or a.get("gene") or a.get("Name") or gene_id
            biotype = a.get("gene_type") or a.get("gene_biotype") or a.get("biotype", "")
            syn = a.get("gene_synonym", "").replace(",", ";")
            strand = {"+": 1, "-": -1}.get(f[6], 0)
            yield (chrom, start, end, strand, symbol, gene_id, hgnc, biotype, syn)


def parse_gff3(path: Path) -> dict[str, np.ndarray]:
    """Gene-table columns from a GFF3 file (see :func:`iter_gff3_genes`)."""
    return _columns(list(iter_gff3_genes(path)))


class _GffGenes(InstalledSource):
    """An installed GFF3 release parsed into a cached ``genes.npz`` table."""

    build: str = "GRCh38"

    def _load(self) -> GeneTable:
        gff = self.files()[0]
        cache = gff.parent / "genes.npz"
        if cache.exists() and cache.stat().st_mtime >= gff.stat().st_mtime:
            try:
                return GeneTable.from_npz(cache)
            except (OSError, ValueError, KeyError):
                cache.unlink(missing_ok=True)
        table = GeneTable(parse_gff3(gff), self.build, self.name, self.version)
        if not len(table):
            raise KnowledgeError(f"no genes on primary chromosomes in {gff}", path=gff)
        table.to_npz(cache)
        return table


_GENCODE = "https://ftp.ebi.ac.uk/pub/databases/gencode/Gencode_human"
_MANE = "https://ftp.ncbi.nlm.nih.gov/refseq/MANE/MANE_human"


@register
class GencodeGRCh38(_GffGenes):
    """GENCODE basic gene annotation on GRCh38 (installable)."""

    name = "gencode-grch38"
    title = "GENCODE basic gene annotation (GRCh38)"
    license = "GENCODE open data (no restrictions)"
    source = "GENCODE release GFF3 (https://www.gencodegenes.org)"
    builds = ("GRCh38",)
    build = "GRCh38"

    def releases(self) -> list[Release]:
        return [
            Release(
                version="46",
                url=f"{_GENCODE}/release_46/gencode.v46.basic.annotation.gff3.gz",
                filename="gencode.v46.basic.annotation.gff3.gz",
            )
        ]


@register
class GencodeGRCh37(_GffGenes):
    """GENCODE basic gene annotation lifted to GRCh37 (installable)."""

    name = "gencode-grch37"
    title = "GENCODE basic gene annotation, lifted to GRCh37"
    license = GencodeGRCh38.license
    source = "GENCODE release GFF3, GRCh37 mapping (https://www.gencodegenes.org)"
    builds = ("GRCh37",)
    build = "GRCh37"

    def releases(self) -> list[Release]:
        return [
            Release(
                version="46lift37",
                url=f"{_GENCODE}/release_46/GRCh37_mapping/gencode.v46lift37.basic.annotation.gff3.gz",
                filename="gencode.v46lift37.basic.annotation.gff3.gz",
            )
        ]


@register
class ManeGRCh38(_GffGenes):
    """MANE Select genes (Ensembl GFF) on GRCh38 (installable)."""

    name = "mane-grch38"
    title = "MANE Select genes (GRCh38)"
    license = "public (NCBI/EMBL-EBI)"
    source = "MANE release GFF (https://ftp.ncbi.nlm.nih.gov/refseq/MANE/)"
    builds = ("GRCh38",)
    build = "GRCh38"

    def releases(self) -> list[Release]:
        return [
            Release(
                version=v,
                url=f"{_MANE}/release_{v}/MANE.GRCh38.v{v}.ensembl_genomic.gff.gz",
                filename=f"MANE.GRCh38.v{v}.ensembl_genomic.gff.gz",
            )
            for v in ("1.4", "1.3")
        ]


# ---------------------------------------------------------------------------- API

_PREFERENCE = {"GRCh38": ("gencode-grch38", "genes"), "GRCh37": ("gencode-grch37",)}


def gene_source(build: str) -> KnowledgeSource:
    """The gene-coordinate source that answers queries for ``build``.

    Raises
    ------
    InconsistentInputError
        When no source has gene coordinates for the build (names the install command).
    """
    for name in _PREFERENCE.get(build, ()):
        src = get_source(name)
        if src.is_available():
            return src
    get_source("genes").require_build(build)
    raise KnowledgeError(
        f"no gene coordinates for {build} are available; run `genoma kb install "
        f"gencode-{build.lower()}`"
    )


def gene_table(build: str) -> GeneTable:
    """The loaded gene table for a build (see :func:`gene_source`)."""
    return gene_source(build).load()  # type: ignore[no-any-return]


def genes_at(chrom: str, pos: int, build: str) -> list[Gene]:
    """Genes containing the 1-based position ``chrom:pos`` on ``build``."""
    return gene_table(build).at(chrom, pos)


def genes_in(chrom: str, start: int, end: int, build: str) -> list[Gene]:
    """Genes overlapping the 1-based closed range ``chrom:start-end`` on ``build``."""
    return gene_table(build).in_range(chrom, start, end)


def gene(symbol: str, build: str) -> Gene:
    """The gene with that symbol on ``build`` (see :meth:`GeneTable.gene`)."""
    return gene_table(build).gene(symbol)


def overlaps(
    chroms: Iterable[str] | np.ndarray, positions: np.ndarray, build: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(variant_index, gene_row)`` pairs for many positions (see :meth:`GeneTable.overlaps`)."""
    return gene_table(build).overlaps(chroms, np.asarray(positions))


def annotate_positions(
    chroms: Iterable[str] | np.ndarray, positions: np.ndarray, build: str, sep: str = ","
) -> np.ndarray:
    """Gene symbols at many positions, vectorised.

    Parameters
    ----------
    chroms, positions
        Chromosome and 1-based position of each variant.
    build
        Genome build of the positions.
    sep
        Separator between the symbols of overlapping genes.

    Returns
    -------
    numpy.ndarray
        One string per variant: the symbols of the genes containing it, in gene-start
        order, joined by ``sep`` (empty when intergenic).
    """
    table = gene_table(build)
    pos = np.asarray(positions, dtype=np.int64)
    q, g = table.overlaps(chroms, pos)
    out = np.full(len(pos), "", dtype=object)
    if len(q):
        syms = table.cols["symbol"][g]
        bounds = np.flatnonzero(np.diff(q)) + 1
        for qi, chunk in zip(q[np.concatenate([[0], bounds])], np.split(syms, bounds), strict=True):
            out[qi] = sep.join(dict.fromkeys(chunk.tolist()))
    return out
