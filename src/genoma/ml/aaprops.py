"""Amino-acid substitution properties used as pathogenicity features.

Tables (one-letter codes; ``*`` is the stop):

- BLOSUM62 (Henikoff & Henikoff 1992), NCBI ``blosum62.iij`` values.
- Grantham distance (Grantham 1974, Science 185:862) computed from its three properties
  (composition *c*, polarity *p*, volume *v*) with the published weights
  (α = 1.833, β = 0.1018, γ = 0.000399) and scale (50.723); the published integer
  matrix is this value rounded.
- Kyte–Doolittle hydropathy (Kyte & Doolittle 1982).
- Residue volume in Å³ (Zamyatnin 1972).
- Side-chain charge at pH 7 (Asp, Glu −1; Lys, Arg +1; others 0).
"""

from __future__ import annotations

import math

__all__ = ["blosum62", "charge", "grantham", "hydropathy", "volume"]

_BLOSUM62_ORDER = "ARNDCQEGHILKMFPSTWYV*"
_BLOSUM62_ROWS = (
    "4 -1 -2 -2 0 -1 -1 0 -2 -1 -1 -1 -1 -2 -1 1 0 -3 -2 0 -4",
    "-1 5 0 -2 -3 1 0 -2 0 -3 -2 2 -1 -3 -2 -1 -1 -3 -2 -3 -4",
    "-2 0 6 1 -3 0 0 0 1 -3 -3 0 -2 -3 -2 1 0 -4 -2 -3 -4",
    "-2 -2 1 6 -3 0 2 -1 -1 -3 -4 -1 -3 -3 -1 0 -1 -4 -3 -3 -4",
    "0 -3 -3 -3 9 -3 -4 -3 -3 -1 -1 -3 -1 -2 -3 -1 -1 -2 -2 -1 -4",
    "-1 1 0 0 -3 5 2 -2 0 -3 -2 1 0 -3 -1 0 -1 -2 -1 -2 -4",
    "-1 0 0 2 -4 2 5 -2 0 -3 -3 1 -2 -3 -1 0 -1 -3 -2 -2 -4",
    "0 -2 0 -1 -3 -2 -2 6 -2 -4 -4 -2 -3 -3 -2 0 -2 -2 -3 -3 -4",
    "-2 0 1 -1 -3 0 0 -2 8 -3 -3 -1 -2 -1 -2 -1 -2 -2 2 -3 -4",
    "-1 -3 -3 -3 -1 -3 -3 -4 -3 4 2 -3 1 0 -3 -2 -1 -3 -1 3 -4",
    "-1 -2 -3 -4 -1 -2 -3 -4 -3 2 4 -2 2 0 -3 -2 -1 -2 -1 1 -4",
    "-1 2 0 -1 -3 1 1 -2 -1 -3 -2 5 -1 -3 -1 0 -1 -3 -2 -2 -4",
    "-1 -1 -2 -3 -1 0 -2 -3 -2 1 2 -1 5 0 -2 -1 -1 -1 -1 1 -4",
    "-2 -3 -3 -3 -2 -3 -3 -3 -1 0 0 -3 0 6 -4 -2 -2 1 3 -1 -4",
    "-1 -2 -2 -1 -3 -1 -1 -2 -2 -3 -3 -1 -2 -4 7 -1 -1 -4 -3 -2 -4",
    "1 -1 1 0 -1 0 0 0 -1 -2 -2 0 -1 -2 -1 4 1 -3 -2 -2 -4",
    "0 -1 0 -1 -1 -1 -1 -2 -2 -1 -1 -1 -1 -2 -1 1 5 -2 -2 0 -4",
    "-3 -3 -4 -4 -2 -2 -3 -2 -2 -3 -2 -3 -1 1 -4 -3 -2 11 2 -3 -4",
    "-2 -2 -2 -3 -2 -1 -2 -3 2 -1 -1 -2 -1 3 -3 -2 -2 2 7 -1 -4",
    "0 -3 -3 -3 -1 -2 -2 -3 -3 3 1 -2 1 -1 -2 -2 0 -3 -1 4 -4",
    "-4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 1",
)
_BLOSUM62: dict[tuple[str, str], int] = {
    (a, b): int(v)
    for a, row in zip(_BLOSUM62_ORDER, _BLOSUM62_ROWS, strict=True)
    for b, v in zip(_BLOSUM62_ORDER, row.split(), strict=True)
}

# Grantham (1974) Table 1: composition, polarity, volume.
_GRANTHAM_CPV: dict[str, tuple[float, float, float]] = {
    "S": (1.42, 9.2, 32), "R": (0.65, 10.5, 124), "L": (0.0, 4.9, 111), "P": (0.39, 8.0, 32.5),
    "T": (0.71, 8.6, 61), "A": (0.0, 8.1, 31), "V": (0.0, 5.9, 84), "G": (0.74, 9.0, 3),
    "I": (0.0, 5.2, 111), "F": (0.0, 5.2, 132), "Y": (0.20, 6.2, 136), "C": (2.75, 5.5, 55),
    "H": (0.58, 10.4, 96), "Q": (0.89, 10.5, 85), "N": (1.33, 11.6, 56), "K": (0.33, 11.3, 119),
    "D": (1.38, 13.0, 54), "E": (0.92, 12.3, 83), "M": (0.0, 5.7, 105), "W": (0.13, 5.4, 170),
}  # fmt: skip

_KYTE_DOOLITTLE: dict[str, float] = {
    "A": 1.8, "R": -4.5, "N": -3.5, "D": -3.5, "C": 2.5, "Q": -3.5, "E": -3.5, "G": -0.4,
    "H": -3.2, "I": 4.5, "L": 3.8, "K": -3.9, "M": 1.9, "F": 2.8, "P": -1.6, "S": -0.8,
    "T": -0.7, "W": -0.9, "Y": -1.3, "V": 4.2,
}  # fmt: skip

_VOLUME: dict[str, float] = {
    "A": 88.6, "R": 173.4, "N": 114.1, "D": 111.1, "C": 108.5, "Q": 143.8, "E": 138.4,
    "G": 60.1, "H": 153.2, "I": 166.7, "L": 166.7, "K": 168.6, "M": 162.9, "F": 189.9,
    "P": 112.7, "S": 89.0, "T": 116.1, "W": 227.8, "Y": 193.6, "V": 140.0,
}  # fmt: skip

_CHARGE: dict[str, float] = {"D": -1.0, "E": -1.0, "K": 1.0, "R": 1.0}


def blosum62(a: str, b: str) -> float:
    """BLOSUM62 score of one-letter residues ``a`` → ``b`` (``*`` = stop); NaN if unknown."""
    return float(_BLOSUM62.get((a, b), math.nan))


def grantham(a: str, b: str) -> float:
    """Grantham (1974) distance between two amino acids (NaN for stop/unknown)."""
    if a not in _GRANTHAM_CPV or b not in _GRANTHAM_CPV:
        return math.nan
    (c1, p1, v1), (c2, p2, v2) = _GRANTHAM_CPV[a], _GRANTHAM_CPV[b]
    return 50.723 * math.sqrt(
        1.833 * (c1 - c2) ** 2 + 0.1018 * (p1 - p2) ** 2 + 0.000399 * (v1 - v2) ** 2
    )


def hydropathy(a: str) -> float:
    """Kyte–Doolittle hydropathy of a residue (NaN for stop/unknown)."""
    return _KYTE_DOOLITTLE.get(a, math.nan)


def volume(a: str) -> float:
    """Residue volume in Å³ (NaN for stop/unknown)."""
    return _VOLUME.get(a, math.nan)


def charge(a: str) -> float:
    """Side-chain charge at pH 7 (NaN for stop/unknown)."""
    if a not in _VOLUME:
        return math.nan
    return _CHARGE.get(a, 0.0)
