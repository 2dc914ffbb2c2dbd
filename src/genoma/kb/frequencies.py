"""Population allele frequencies from any sites VCF (gnomAD, ExAC, 1000 Genomes …).

A sites VCF carries, per ALT allele, an allele count / number / frequency overall and
per population in INFO keys whose names differ between releases (gnomAD v4 ``AF_afr``,
``nhomalt``, ``fafmax_faf95_max``; gnomAD v2 ``AF_popmax``, ``faf95_popmax``; ExAC
``AC_AFR`` / ``AN_AFR``, ``AC_Hom``). :class:`FrequencySchema` names them;
:func:`detect_schema` picks a preset from the header. :class:`FrequencyTable` looks
alleles up through a tabix index (``.tbi`` / ``.csi``; the full gnomAD files need one)
or, for small unindexed excerpts, from an in-memory dictionary.

**popmax / grpmax** is the highest allele frequency over the continental genetic
ancestry groups, leaving out the bottlenecked or mixed ones (Ashkenazi Jewish, Finnish,
Middle Eastern, Amish, "other"/"remaining"), as gnomAD defines ``grpmax``.

**Filtering allele frequency** (Whiffin et al. 2017, gnomAD ``faf95``): the highest true
population frequency that is still compatible, at 95 % one-sided confidence, with the
allele count observed; i.e. the lower Poisson confidence bound of AC/AN. Comparing
the FAF (not the raw AF) with a disease's maximum credible frequency is what BA1 / BS1
ask for: a variant seen 3 times in 20,000 alleles is not "common" by chance alone.
:func:`filtering_af` computes it when the file does not carry it.

Alleles are matched after trimming the bases REF and ALT share (suffix, then prefix,
keeping one anchor base): normalise the input and the knowledge file the same way
(``bcftools norm -m- -f REF``) for indels to match.
"""

from __future__ import annotations

import gzip
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from genoma.errors import InputMissingError, KnowledgeError, MalformedInputError
from genoma.kb.base import Release, register
from genoma.kb.install import InstalledSource
from genoma.model.variant import canonical_chrom, normalize_alleles

__all__ = [
    "SCHEMAS",
    "AlleleFrequency",
    "FrequencySchema",
    "FrequencySource",
    "FrequencyTable",
    "PerChromosomeFrequencies",
    "SitesVcf",
    "detect_schema",
    "filtering_af",
    "normalise_alleles",
]

#: Unindexed files larger than this must be tabix-indexed (they are read into memory).
MAX_UNINDEXED_BYTES = 64 << 20

_INFO_DEF = re.compile(r"##INFO=<ID=([^,>]+),Number=([^,>]+)")


def normalise_alleles(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Upper-case, then trim shared bases (:func:`genoma.model.variant.normalize_alleles`)."""
    return normalize_alleles(pos, ref.upper(), alt.upper())


def filtering_af(ac: int, an: int, confidence: float = 0.95) -> float:
    """Filtering allele frequency: the lower one-sided Poisson bound of ``ac / an``.

    Parameters
    ----------
    ac, an
        Allele count and allele number.
    confidence
        One-sided confidence (gnomAD's ``faf95``: 0.95; ``faf99``: 0.99).

    Returns
    -------
    float
        The highest allele frequency at which observing ``ac`` or more alleles has
        probability ``1 - confidence`` (0 when ``ac`` is 0 or ``an`` is 0).

    References
    ----------
    Whiffin N. et al. (2017) Using high-resolution variant frequencies to empower
    clinical genome interpretation. Genet Med 19:1151-1158.
    """
    if ac <= 0 or an <= 0:
        return 0.0
    from scipy.stats import chi2

    return float(chi2.ppf(1.0 - confidence, 2 * ac) / 2.0 / an)


@dataclass(frozen=True)
class FrequencySchema:
    """INFO keys of a sites VCF; ``{pop}`` is replaced by each population code.

    Attributes
    ----------
    populations
        Population codes as written in the keys (``afr``, ``AFR`` …).
    popmax_exclude
        Populations left out of popmax / grpmax (bottlenecked or mixed groups).
    af, ac, an, hom, hemi
        Overall keys (``None`` when absent; AF is computed from AC/AN when missing).
    pop_af, pop_ac, pop_an, pop_hom
        Per-population key patterns.
    popmax_af, popmax_pop, faf95
        Keys of precomputed popmax AF / population / filtering AF, when the file has them.
    """

    name: str
    populations: tuple[str, ...] = ()
    popmax_exclude: tuple[str, ...] = ()
    af: str | None = "AF"
    ac: str | None = "AC"
    an: str | None = "AN"
    hom: str | None = None
    hemi: str | None = None
    pop_af: str | None = None
    pop_ac: str | None = None
    pop_an: str | None = None
    pop_hom: str | None = None
    popmax_af: str | None = None
    popmax_pop: str | None = None
    faf95: str | None = None


#: Presets: gnomAD v4 / v3 (``grpmax``), gnomAD v2 (``popmax``), ExAC r1, plain AF/AC/AN.
SCHEMAS: dict[str, FrequencySchema] = {
    "gnomad4": FrequencySchema(
        "gnomad4", ("afr", "amr", "asj", "eas", "fin", "mid", "nfe", "sas", "remaining", "ami"),
        ("asj", "fin", "mid", "remaining", "ami"), hom="nhomalt", pop_af="AF_{pop}",
        pop_ac="AC_{pop}", pop_an="AN_{pop}", pop_hom="nhomalt_{pop}", popmax_af="AF_grpmax",
        popmax_pop="grpmax", faf95="fafmax_faf95_max"),
    "gnomad2": FrequencySchema(
        "gnomad2", ("afr", "amr", "asj", "eas", "fin", "nfe", "oth", "sas"), ("asj", "fin", "oth"),
        hom="nhomalt", pop_af="AF_{pop}", pop_ac="AC_{pop}", pop_an="AN_{pop}",
        pop_hom="nhomalt_{pop}", popmax_af="AF_popmax", popmax_pop="popmax", faf95="faf95_popmax"),
    "exac": FrequencySchema(
        "exac", ("AFR", "AMR", "EAS", "FIN", "NFE", "OTH", "SAS"), ("FIN", "OTH"), af=None,
        ac="AC_Adj", an="AN_Adj", hom="AC_Hom", hemi="AC_Hemi", pop_ac="AC_{pop}",
        pop_an="AN_{pop}", pop_hom="Hom_{pop}"),
    "plain": FrequencySchema("plain"),
}


def detect_schema(info_keys: set[str]) -> FrequencySchema:
    """The preset whose characteristic keys the header declares (``plain`` otherwise)."""
    if "AF_grpmax" in info_keys or "fafmax_faf95_max" in info_keys or "AF_remaining" in info_keys:
        return SCHEMAS["gnomad4"]
    if "AF_popmax" in info_keys or "faf95_popmax" in info_keys:
        return SCHEMAS["gnomad2"]
    if "AC_Adj" in info_keys and "AN_Adj" in info_keys:
        return SCHEMAS["exac"]
    return SCHEMAS["plain"]


@dataclass(frozen=True)
class AlleleFrequency:
    """Frequencies of one allele in one sites VCF.

    Attributes
    ----------
    af, ac, an
        Overall frequency, count and number (``None`` when the file lacks them).
    hom, hemi
        Homozygous / hemizygous individuals.
    popmax_af, popmax_pop, popmax_an
        Highest AF over the non-excluded populations, its population and allele number.
    faf95
        Filtering allele frequency (95 %) of the popmax population: the file's value,
        or :func:`filtering_af` of that population's counts, or of the overall counts.
    populations
        Per-population ``(af, ac, an)``.
    """

    af: float | None = None
    ac: int | None = None
    an: int | None = None
    hom: int | None = None
    hemi: int | None = None
    popmax_af: float | None = None
    popmax_pop: str | None = None
    popmax_an: int | None = None
    faf95: float | None = None
    populations: dict[str, tuple[float | None, int | None, int | None]] = field(default_factory=dict)

    @property
    def max_af(self) -> float | None:
        """The larger of the overall AF and popmax AF."""
        vals = [v for v in (self.af, self.popmax_af) if v is not None]
        return max(vals) if vals else None


class SitesVcf:
    """Record lookup in a (bgzip + tabix, or small plain/gzip) sites VCF.

    Parameters
    ----------
    path
        The VCF. With a ``.tbi`` / ``.csi`` index, lookups use tabix; otherwise a file up
        to :data:`MAX_UNINDEXED_BYTES` is read into memory.

    Raises
    ------
    InputMissingError, KnowledgeError, MalformedInputError
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputMissingError("sites VCF not found", path=self.path)
        self.info_numbers: dict[str, str] = {}
        self.meta: dict[str, str] = {}
        self._tabix = None
        self._mem: dict[tuple[str, int], list[str]] | None = None
        self._mem_pos: dict[str, list[int]] = {}
        self._contig: dict[str, str] = {}
        idx = [self.path.with_name(self.path.name + s) for s in (".tbi", ".csi")]
        if any(p.exists() for p in idx):
            import pysam

            try:
                self._tabix = pysam.TabixFile(str(self.path))
            except (OSError, ValueError) as exc:
                raise KnowledgeError(f"cannot open tabix index: {exc}", path=self.path) from exc
            for line in self._tabix.header:
                self._header_line(line)
            self._contig = {canonical_chrom(c): c for c in self._tabix.contigs}
        else:
            if self.path.stat().st_size > MAX_UNINDEXED_BYTES:
                raise KnowledgeError(
                    "large sites file without a tabix index: run `tabix -p vcf` on it "
                    "(bgzip-compressed)", path=self.path)
            self._read_all()

    def _header_line(self, line: str) -> None:
        m = _INFO_DEF.match(line)
        if m:
            self.info_numbers[m.group(1)] = m.group(2)
        elif line.startswith("##") and "=" in line and not line.startswith("##INFO"):
            k, _, v = line[2:].partition("=")
            self.meta.setdefault(k, v)

    def _read_all(self) -> None:
        mem: dict[tuple[str, int], list[str]] = {}
        opener = gzip.open if self.path.read_bytes()[:2] == b"\x1f\x8b" else open
        with opener(self.path, "rt", encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if line.startswith("#"):
                    self._header_line(line.rstrip("\n"))
                    continue
                f = line.split("\t", 2)
                if len(f) < 3 or not f[1].isdigit():
                    raise MalformedInputError("sites VCF record needs CHROM and integer POS",
                                              path=self.path, line=n)
                mem.setdefault((canonical_chrom(f[0]), int(f[1])), []).append(line.rstrip("\n"))
        self._mem = mem
        self._mem_pos: dict[str, list[int]] = {}
        for c, p in mem:
            self._mem_pos.setdefault(c, []).append(p)
        for v in self._mem_pos.values():
            v.sort()

    def fetch(self, chrom: str, start: int, end: int) -> list[list[str]]:
        """Records with ``start <= POS <= end`` (1-based) as split columns."""
        c = canonical_chrom(chrom)
        if self._tabix is not None:
            name = self._contig.get(c)
            if name is None:
                return []
            return [ln.split("\t") for ln in self._tabix.fetch(name, max(0, start - 1), end)
                    if start <= int(ln.split("\t", 2)[1]) <= end]
        assert self._mem is not None
        ps = self._mem_pos.get(c, [])
        out = []
        for p in ps[bisect_left(ps, start):bisect_right(ps, end)]:
            out.extend(ln.split("\t") for ln in self._mem[(c, p)])
        return out

    def allele_info(self, chrom: str, pos: int, ref: str, alt: str) -> list[tuple[list[str], dict[str, str]]]:
        """``(columns, INFO for this ALT)`` of every record carrying the allele.

        Number=A / R INFO values are reduced to the matching ALT's value.
        """
        key = normalise_alleles(pos, ref, alt)
        out = []
        span = max(len(ref), 1)
        for cols in self.fetch(chrom, pos - span, pos + span):
            if len(cols) < 8:
                continue
            alts = cols[4].split(",")
            for i, a in enumerate(alts):
                if normalise_alleles(int(cols[1]), cols[3], a) == key:
                    out.append((cols, self.split_info(cols[7], i, len(alts))))
        return out

    def split_info(self, info: str, i: int, n_alt: int) -> dict[str, str]:
        """INFO as a dict, Number=A/R fields reduced to ALT ``i`` (0-based)."""
        d: dict[str, str] = {}
        if info in (".", ""):
            return d
        for kv in info.split(";"):
            k, sep, v = kv.partition("=")
            if not sep:
                d[k] = "1"
                continue
            num = self.info_numbers.get(k)
            if num in ("A", "R"):
                vals = v.split(",")
                j = i if num == "A" else i + 1
                v = vals[j] if j < len(vals) else "."
            d[k] = v
        return d

    def close(self) -> None:
        """Close the tabix handle."""
        if self._tabix is not None:
            self._tabix.close()


def _num(v: str | None, typ: type) -> float | int | None:
    if v is None or v in (".", ""):
        return None
    try:
        return typ(float(v)) if typ is int else typ(v)
    except ValueError:
        return None


class FrequencyTable:
    """Allele frequencies from one sites VCF.

    Parameters
    ----------
    path
        The sites VCF (tabix-indexed for full-size files).
    schema
        A :class:`FrequencySchema`, a preset name (``gnomad4``, ``gnomad2``, ``exac``,
        ``plain``) or ``None`` to detect from the header.
    label
        Name shown in evidence (default: file name).
    """

    def __init__(self, path: str | Path, schema: FrequencySchema | str | None = None,
                 label: str | None = None):
        self.sites = SitesVcf(path)
        if isinstance(schema, str):
            if schema not in SCHEMAS:
                raise KnowledgeError(f"unknown frequency schema {schema!r}; known: {', '.join(SCHEMAS)}")
            schema = SCHEMAS[schema]
        self.schema = schema or detect_schema(set(self.sites.info_numbers))
        self.label = label or self.sites.path.name

    def lookup(self, chrom: str, pos: int, ref: str, alt: str) -> AlleleFrequency | None:
        """Frequencies of one allele (``None`` when the file has no record of it)."""
        hits = self.sites.allele_info(chrom, pos, ref, alt)
        if not hits:
            return None
        return self._freq(hits[0][1])

    def _freq(self, info: dict[str, str]) -> AlleleFrequency:
        s = self.schema
        ac = _num(info.get(s.ac), int) if s.ac else None
        an = _num(info.get(s.an), int) if s.an else None
        af = _num(info.get(s.af), float) if s.af else None
        if af is None and ac is not None and an:
            af = ac / an
        pops: dict[str, tuple[float | None, int | None, int | None]] = {}
        for p in s.populations:
            pac = _num(info.get(s.pop_ac.format(pop=p)), int) if s.pop_ac else None
            pan = _num(info.get(s.pop_an.format(pop=p)), int) if s.pop_an else None
            paf = _num(info.get(s.pop_af.format(pop=p)), float) if s.pop_af else None
            if paf is None and pac is not None and pan:
                paf = pac / pan
            if paf is not None or pac is not None:
                pops[p] = (paf, pac, pan)
        pm_af = _num(info.get(s.popmax_af), float) if s.popmax_af else None
        pm_pop = info.get(s.popmax_pop) if s.popmax_pop else None
        cands = [(v[0], p) for p, v in pops.items() if p not in s.popmax_exclude and v[0] is not None]
        if pm_af is None and cands:
            pm_af, pm_pop = max(cands)
        if pm_pop in (".", ""):
            pm_pop = None
        pm_an = pops.get(pm_pop, (None, None, None))[2] if pm_pop else None
        faf = _num(info.get(s.faf95), float) if s.faf95 else None
        if faf is None:
            pop_fafs = [filtering_af(v[1], v[2]) for p, v in pops.items()
                        if p not in s.popmax_exclude and v[1] is not None and v[2]]
            if pop_fafs:
                faf = max(pop_fafs)
            elif ac is not None and an:
                faf = filtering_af(ac, an)
        return AlleleFrequency(
            af=af, ac=ac, an=an,
            hom=_num(info.get(s.hom), int) if s.hom else None,
            hemi=_num(info.get(s.hemi), int) if s.hemi else None,
            popmax_af=pm_af, popmax_pop=pm_pop, popmax_an=pm_an, faf95=faf, populations=pops)


_GNOMAD_BASE = "https://storage.googleapis.com/gcp-public-data--gnomad/release/4.1/vcf/exomes"
_GNOMAD_CHROMS = [*(str(i) for i in range(1, 23)), "X", "Y"]


@register
class FrequencySource(InstalledSource):
    """gnomAD v4.1 exome sites (per-chromosome bgzip VCFs with tabix indexes).

    ``genoma kb install frequencies`` downloads 24 VCFs and their indexes (≈ 150 GB;
    gnomAD publishes no SHA-256, so the checksum of the first download is recorded).
    Any other sites VCF can be used directly: ``genoma annotate … --frequencies FILE``.
    """

    name: ClassVar[str] = "frequencies"
    title: ClassVar[str] = "gnomAD v4.1 exome allele frequencies (sites VCF, GRCh38)"
    license: ClassVar[str] = "ODC-ODbL 1.0 (gnomAD)"
    source: ClassVar[str] = "Genome Aggregation Database, " + _GNOMAD_BASE
    builds: ClassVar[tuple[str, ...]] = ("GRCh38",)

    def releases(self) -> list[Release]:
        def rel(c: str, suffix: str) -> Release:
            fn = f"gnomad.exomes.v4.1.sites.chr{c}.vcf.bgz{suffix}"
            return Release("4.1", f"{_GNOMAD_BASE}/{fn}", fn)

        parts = [rel(c, s) for c in _GNOMAD_CHROMS for s in ("", ".tbi")]
        return [Release("4.1", parts[0].url, parts[0].filename, extra={"files": parts[1:]})]

    def _load(self) -> PerChromosomeFrequencies:
        return PerChromosomeFrequencies(
            {canonical_chrom(p.name.split(".sites.")[1].split(".")[0]): p
             for p in self.files() if p.name.endswith(".vcf.bgz")},
            schema="gnomad4", label=f"gnomAD exomes {self.version}")


class PerChromosomeFrequencies:
    """Several per-chromosome sites VCFs behind one :meth:`lookup` (opened on first use)."""

    def __init__(self, paths: dict[str, Path], schema: FrequencySchema | str | None = None,
                 label: str = "population data"):
        self.paths = paths
        self.schema = schema
        self.label = label
        self._open: dict[str, FrequencyTable] = {}

    def lookup(self, chrom: str, pos: int, ref: str, alt: str) -> AlleleFrequency | None:
        """Frequencies of one allele (``None`` when absent or the chromosome has no file)."""
        c = canonical_chrom(chrom)
        if c not in self.paths:
            return None
        if c not in self._open:
            self._open[c] = FrequencyTable(self.paths[c], self.schema, self.label)
        return self._open[c].lookup(c, pos, ref, alt)
