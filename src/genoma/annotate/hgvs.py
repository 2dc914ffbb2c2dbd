"""HGVS helpers: genetic code, amino-acid names, 3' shifting, protein descriptions.

Conventions follow Ensembl VEP (which follows the HGVS recommendations): three-letter
amino acids, ``Ter`` for stop, ``p.(=)``-style synonymous changes written
``p.Leu12=`` (``=`` escaped ``%3D`` in VCF output), ``fsTer`` with the count of the new
stop, ``extTer`` for stop-loss extensions, ``p.Met1?`` for start loss. Insertions and
deletions are shifted to their most 3' position in the transcript before they are
described (the 3' rule); insertions equal to the preceding sequence are ``dup``.

References
----------
den Dunnen JT et al. (2016) HGVS recommendations for the description of sequence
variants: 2016 update. Hum Mutat 37:564-569.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AA3", "CODON_TABLE", "protein_change", "shift_deletion", "shift_insertion", "translate"]

_BASES = "TCAG"
_AAS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE: dict[str, str] = {
    a + b + c: _AAS[16 * i + 4 * j + k]
    for i, a in enumerate(_BASES) for j, b in enumerate(_BASES) for k, c in enumerate(_BASES)
}
_MITO = dict(CODON_TABLE, AGA="*", AGG="*", ATA="M", TGA="W")

AA3: dict[str, str] = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
    "X": "Xaa", "U": "Sec",
}


#: Base code of every byte (``TCAG`` → 0-3, anything else 4), and per genetic code the
#: amino acid of every base-5 codon number 0-124 (a codon with a non-ACGT base: ``X``),
#: both as ``bytes.translate`` tables.
_CODE = bytes(_BASES.index(chr(i)) if chr(i) in _BASES else 4 for i in range(256))


def _aa_table(table: dict[str, str]) -> bytes:
    lut = bytearray(b"X" * 256)
    for codon, aa in table.items():
        lut[25 * _BASES.index(codon[0]) + 5 * _BASES.index(codon[1]) + _BASES.index(codon[2])] = ord(aa)
    return bytes(lut)


_AA = {False: _aa_table(CODON_TABLE), True: _aa_table(_MITO)}
_NP_MIN = 90  # bases: shorter stretches translate faster codon by codon
_CHUNK = 1800  # bases per chunk when translating to the first stop


def _codons(seq: str, c0: int, c1: int, mito: bool) -> str:
    """Amino acids of the codons of ``seq[c0:c1]`` (``c1 - c0`` a multiple of 3)."""
    if c1 - c0 < _NP_MIN:
        table = _MITO if mito else CODON_TABLE
        return "".join([table.get(seq[i:i + 3], "X") for i in range(c0, c1, 3)])
    # bases → codes (a non-ASCII character encodes as '?': code 4), codon numbers in
    # NumPy (at most 124: uint8), numbers → amino acids
    b = np.frombuffer(seq[c0:c1].encode("ascii", "replace").translate(_CODE), dtype=np.uint8)
    return (b[0::3] * 25 + b[1::3] * 5 + b[2::3]).tobytes().translate(_AA[mito]).decode("ascii")


def translate(seq: str, *, to_stop: bool = False, partial: bool = True, mito: bool = False) -> str:
    """Translate DNA (upper case) to one-letter amino acids.

    Codons with a base other than ``ACGT`` translate to ``X``.

    Parameters
    ----------
    seq
        Coding sequence.
    to_stop
        Stop after the first stop codon (kept as ``*``).
    partial
        Append ``X`` for a trailing incomplete codon (as VEP does for frameshift alleles).
    mito
        Use the vertebrate mitochondrial code.
    """
    if len(seq) == 3:  # one codon (most calls); a stop is kept with or without to_stop
        return (_MITO if mito else CODON_TABLE).get(seq, "X")
    n = len(seq) - len(seq) % 3
    if not to_stop:
        prot = _codons(seq, 0, n, mito)
    else:
        parts = []
        for c0 in range(0, n, _CHUNK):  # in chunks: stop early at the first stop codon
            chunk = _codons(seq, c0, min(c0 + _CHUNK, n), mito)
            k = chunk.find("*")
            if k >= 0:
                parts.append(chunk[:k + 1])
                return "".join(parts)
            parts.append(chunk)
        prot = "".join(parts)
    if partial and len(seq) % 3:
        prot += "X"
    return prot


def shift_deletion(seq: str, start0: int, end0: int, forward: bool, lo: int, hi: int) -> tuple[int, int]:
    """Shift a deletion ``seq[start0:end0]`` as far 3' as the sequence allows.

    Parameters
    ----------
    seq
        The genomic sequence (0-based string).
    start0, end0
        0-based half-open deleted interval.
    forward
        Shift towards higher coordinates (plus-strand transcript) or lower (minus).
    lo, hi
        0-based half-open bounds the deleted interval must stay within.

    Returns
    -------
    tuple of int
        The shifted ``(start0, end0)``.
    """
    if forward:
        while end0 < hi and end0 < len(seq) and seq[end0] == seq[start0] and seq[end0] != "N":
            start0 += 1
            end0 += 1
    else:
        while start0 - 1 >= lo and start0 > 0 and seq[start0 - 1] == seq[end0 - 1] and seq[start0 - 1] != "N":
            start0 -= 1
            end0 -= 1
    return start0, end0


def shift_insertion(seq: str, after0: int, ins: str, forward: bool, lo: int, hi: int) -> tuple[int, str]:
    """Shift an insertion of ``ins`` placed before ``seq[after0]`` as far 3' as possible.

    ``after0`` is the 0-based index of the base just right of the insertion point (the
    insertion sits between ``after0 - 1`` and ``after0``). Returns the shifted point and
    the rotated inserted sequence (genomic strand).
    """
    if not ins:
        return after0, ins
    if forward:
        while after0 < hi and after0 < len(seq) and seq[after0] == ins[0] and ins[0] != "N":
            ins = ins[1:] + ins[0]
            after0 += 1
    else:
        while after0 - 1 >= lo and after0 > 0 and seq[after0 - 1] == ins[-1] and ins[-1] != "N":
            ins = ins[-1] + ins[:-1]
            after0 -= 1
    return after0, ins


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of two strings (binary search over slice equality)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # invariant: a[:lo] == b[:lo]
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _aa(a: str) -> str:
    return AA3.get(a, "Xaa")


def protein_change(ref: str, alt: str, *, frameshift: bool, syn_pos: int | None,
                   start_lost: bool = False) -> str | None:
    """The HGVS ``p.`` description (without ``p.``) comparing two protein sequences.

    Parameters
    ----------
    ref
        Reference protein, one-letter, ending with ``*`` when the CDS is complete.
    alt
        Variant protein translated from the variant CDS and the 3' UTR up to the first
        stop (inclusive), or to the end of the transcript.
    frameshift
        The change in CDS length is not a multiple of three.
    syn_pos
        1-based residue to name when the proteins are identical (synonymous).
    start_lost
        The initiation codon is lost: ``Met1?``.

    Returns
    -------
    str or None
        E.g. ``Arg12Trp``, ``Leu5=``, ``Tyr345ValfsTer25``, ``Ter339GlnextTer1``, or
        ``None`` when no description applies.
    """
    if start_lost:
        return f"{_aa(ref[0]) if ref else 'Met'}1?"
    k = len(ref) if ref == alt else _common_prefix(ref, alt)
    if k == len(ref) and k == len(alt):
        if syn_pos is None or syn_pos < 1 or syn_pos > len(ref):
            return None
        return f"{_aa(ref[syn_pos - 1])}{syn_pos}="
    if k >= len(ref):  # alt is longer and ref had no stop: extension past a partial CDS
        return None
    if frameshift:
        if k >= len(alt):
            return None
        if alt[k] == "*":
            return f"{_aa(ref[k])}{k + 1}Ter"
        stop = alt.find("*", k)
        tail = f"fsTer{stop - k + 1}" if stop >= 0 else "fsTer?"
        return f"{_aa(ref[k])}{k + 1}{_aa(alt[k])}{tail}"
    if ref[k] == "*":  # stop lost: extension
        if k >= len(alt):
            return None
        stop = alt.find("*", k + 1)
        tail = f"extTer{stop - k}" if stop >= 0 else "extTer?"
        return f"Ter{k + 1}{_aa(alt[k])}{tail}"
    # in-frame: trim the common suffix (not past the common prefix)
    if "*" in alt[k:] and alt[k] == "*":
        return f"{_aa(ref[k])}{k + 1}Ter"
    if len(ref) == len(alt) and ref[k + 1:] == alt[k + 1:]:  # one residue differs (missense)
        s = len(ref) - k - 1
    else:
        s = _common_prefix(ref[k:][::-1], alt[k:][::-1])
    r = ref[k:len(ref) - s]
    a = alt[k:len(alt) - s]
    if a.endswith("*") and "*" not in r:
        # a premature stop inside an insertion / delins: describe up to the stop
        pass
    if len(r) == 1 and len(a) == 1:
        return f"{_aa(r)}{k + 1}{_aa(a)}"
    if not r:
        ln = len(a)
        if k - ln >= 0 and ref[k - ln:k] == a:
            if ln == 1:
                return f"{_aa(a)}{k}dup"
            return f"{_aa(a[0])}{k - ln + 1}_{_aa(a[-1])}{k}dup"
        if k == 0 or k >= len(ref):
            return None
        return f"{_aa(ref[k - 1])}{k}_{_aa(ref[k])}{k + 1}ins{''.join(_aa(x) for x in a)}"
    if not a:
        if len(r) == 1:
            return f"{_aa(r)}{k + 1}del"
        return f"{_aa(r[0])}{k + 1}_{_aa(r[-1])}{k + len(r)}del"
    ins = "".join(_aa(x) for x in a)
    if len(r) == 1:
        return f"{_aa(r)}{k + 1}delins{ins}"
    return f"{_aa(r[0])}{k + 1}_{_aa(r[-1])}{k + len(r)}delins{ins}"
