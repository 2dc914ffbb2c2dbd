"""A strict, small parser for HGVS ``c.``/``n.`` and ``p.`` descriptions.

The pathogenicity model (:mod:`genoma.ml.pathogenicity`) derives its features from the
transcript-level description of a variant, so that a variant known only from the
literature (``NM_024666.5:c.174del`` / ``p.(Asn59IlefsTer51)``) and a variant annotated by
``genoma annotate`` (``ENST…:c.174del`` / ``ENSP…:p.Asn59IlefsTer51``) give the same features.

Scope (HGVS recommendations v21, https://hgvs-nomenclature.org):

- ``c.`` / ``n.``: positions ``N``, ``-N``, ``*N`` with intronic offsets ``+k`` / ``-k``;
  a single position or a range ``A_B``; edits ``X>Y``, ``del[SEQ]``, ``dup[SEQ]``,
  ``insSEQ``, ``delinsSEQ``, ``inv[SEQ]`` and ``=``. Uncertain positions (``(?_-1)``),
  inserted lengths (``ins(10)``), alleles (``[…;…]``) and mosaics are rejected.
- ``p.``: three-letter amino acids (``Ter`` or ``*`` for the stop), optionally inside
  parentheses (predicted); ``p.?``, ``p.=``, ``p.0``, ``p.Met1?``, substitutions
  (``Arg12Trp``, ``Arg12Ter``, ``Arg12=``), frameshifts (``Asn59IlefsTer51``,
  ``Asn59fs``, ``fsTer?``), ``del``, ``dup``, ``ins``, ``delins`` and extensions
  (``Ter110GlnextTer17``, ``Met1ext-5``). VEP's URL-escaped ``%3D`` is read as ``=``.
  One-letter amino-acid codes are rejected (ambiguous with three-letter tokens).

A description that does not follow this grammar raises :class:`HGVSParseError`
(a :class:`genoma.errors.MalformedInputError`, exit 4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genoma.errors import MalformedInputError

__all__ = [
    "AA3",
    "AA3_TO_1",
    "CPosition",
    "CVariant",
    "HGVSParseError",
    "PVariant",
    "parse_c",
    "parse_p",
]

#: The 20 amino acids + stop, three-letter code → one-letter code.
AA3_TO_1: dict[str, str] = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E",
    "Gly": "G", "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F",
    "Pro": "P", "Ser": "S", "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*",
    "Sec": "U", "Xaa": "X",
}  # fmt: skip
AA3: tuple[str, ...] = tuple(AA3_TO_1)

C_EDITS = ("sub", "del", "dup", "ins", "delins", "inv", "identity")
P_KINDS = (
    "unknown",  # p.?
    "identity",  # p.= (whole protein)
    "no_protein",  # p.0
    "sub",  # Arg12Trp, Arg12Ter
    "synonymous",  # Arg12=
    "start_unknown",  # Met1?
    "fs",
    "del",
    "dup",
    "ins",
    "delins",
    "ext",
)


class HGVSParseError(MalformedInputError):
    """An HGVS description outside the grammar this parser accepts (exit 4)."""


# ----------------------------------------------------------------------------- c. / n.


@dataclass(frozen=True)
class CPosition:
    """A position in ``c.``/``n.`` coordinates.

    Attributes
    ----------
    base
        The exonic anchor, ≥ 1 (``c.-19`` has ``region='-'``, ``base=19``).
    region
        ``''`` (CDS or ``n.``), ``'-'`` (5' of the CDS start) or ``'*'`` (3' of the stop).
    offset
        Intronic offset: ``+k`` after, ``-k`` before the anchor, ``0`` when exonic.
    """

    base: int
    region: str = ""
    offset: int = 0

    def __post_init__(self) -> None:
        if self.base < 1 or self.region not in ("", "-", "*"):
            raise ValueError(f"invalid c. position {self.region}{self.base}")

    def format(self) -> str:
        """The HGVS text of the position."""
        off = "" if self.offset == 0 else f"{self.offset:+d}"
        return f"{self.region}{self.base}{off}"

    @property
    def coding_index(self) -> int:
        """Signed exonic coordinate: ``c.-3`` → -3, ``c.12`` → 12; ``*`` positions are not
        comparable with CDS positions and return ``10**9 + base``."""
        if self.region == "-":
            return -self.base
        if self.region == "*":
            return 10**9 + self.base
        return self.base


@dataclass(frozen=True)
class CVariant:
    """A parsed ``c.``/``n.`` description.

    Attributes
    ----------
    coordinate
        ``'c'`` or ``'n'``.
    start, end
        First and last position (``end is None`` for a single position).
    edit
        One of ``sub``, ``del``, ``dup``, ``ins``, ``delins``, ``inv``, ``identity``.
    ref
        Reference bases written in the description (``''`` if none).
    alt
        Substituted / inserted bases (``''`` if none).
    accession
        The reference sequence accession before ``:`` (``''`` if none).
    """

    coordinate: str
    start: CPosition
    end: CPosition | None
    edit: str
    ref: str = ""
    alt: str = ""
    accession: str = ""

    def format(self) -> str:
        """The HGVS text (canonical form of this parser's grammar)."""
        pos = self.start.format() + ("" if self.end is None else "_" + self.end.format())
        if self.edit == "sub":
            body = f"{self.ref}>{self.alt}"
        elif self.edit == "identity":
            body = f"{self.ref}="
        elif self.edit in ("del", "dup", "inv"):
            body = self.edit + self.ref
        elif self.edit == "ins":
            body = "ins" + self.alt
        else:  # delins
            body = f"del{self.ref}ins{self.alt}"
        text = f"{self.coordinate}.{pos}{body}"
        return f"{self.accession}:{text}" if self.accession else text

    @property
    def deleted_length(self) -> int | None:
        """Number of reference bases removed (``None`` when it cannot be known: an
        intronic range without written bases)."""
        if self.edit not in ("del", "delins"):
            return 0
        if self.ref:
            return len(self.ref)
        return _span_length(self.start, self.end)

    @property
    def inserted_length(self) -> int | None:
        """Number of bases added (a ``dup`` adds the duplicated bases)."""
        if self.edit in ("ins", "delins"):
            return len(self.alt)
        if self.edit == "dup":
            return len(self.ref) if self.ref else _span_length(self.start, self.end)
        return 0

    @property
    def net_length(self) -> int | None:
        """Inserted minus deleted bases (``None`` when unknown)."""
        ins, dele = self.inserted_length, self.deleted_length
        if ins is None or dele is None:
            return None
        return ins - dele


def _span_length(start: CPosition, end: CPosition | None) -> int | None:
    if end is None:
        return 1
    if start.offset == 0 and end.offset == 0 and start.region == end.region:
        return abs(end.coding_index - start.coding_index) + 1
    if start.base == end.base and start.region == end.region:  # within one intron
        return abs(end.offset - start.offset) + 1
    return None


_ACC = r"(?:(?P<acc>[A-Za-z][A-Za-z0-9_]*(?:\.\d+)?(?:\([A-Za-z0-9_.-]+\))?):)?"
_POS = r"[-*]?\d+(?:[+-]\d+)?"
_C_RE = re.compile(
    rf"^{_ACC}(?P<coord>[cn])\.(?P<start>{_POS})(?:_(?P<end>{_POS}))?"
    r"(?:(?P<sref>[ACGT])>(?P<salt>[ACGT])"
    r"|(?P<idref>[ACGT]*)=(?!.)"
    r"|del(?P<dref>[ACGT]*)ins(?P<dalt>[ACGT]+)"
    r"|(?P<op>del|dup|inv)(?P<oref>[ACGT]*)"
    r"|ins(?P<ialt>[ACGT]+))$"
)
_POS_RE = re.compile(r"^(?P<region>[-*]?)(?P<base>\d+)(?P<off>[+-]\d+)?$")


def _parse_pos(text: str) -> CPosition:
    m = _POS_RE.match(text)
    assert m is not None  # guaranteed by _C_RE
    base = int(m["base"])
    if base == 0:
        raise ValueError("position 0 does not exist in c./n. coordinates")
    off = int(m["off"]) if m["off"] else 0
    return CPosition(base=base, region=m["region"], offset=off)


def parse_c(text: str, *, path: str | None = None, line: int | None = None) -> CVariant:
    """Parse a ``c.``/``n.`` description, with or without its accession.

    Parameters
    ----------
    text
        e.g. ``"NM_000350.3:c.6088C>T"``, ``"c.870+1G>A"``, ``"c.2478_2485dupGGCTAAAT"``.
    path, line
        Where the text came from (for the error message).

    Returns
    -------
    CVariant

    Raises
    ------
    HGVSParseError
        When the text is not in the grammar (see the module docstring).
    """
    m = _C_RE.match(text.strip())
    if m is None:
        raise HGVSParseError(
            f"not a c./n. description this parser accepts: {text!r}", path=path, line=line
        )
    try:
        start = _parse_pos(m["start"])
        end = _parse_pos(m["end"]) if m["end"] else None
    except ValueError as exc:
        raise HGVSParseError(f"{exc}: {text!r}", path=path, line=line) from None
    if m["coord"] == "n" and (start.region or (end is not None and end.region)):
        raise HGVSParseError(f"n. positions cannot carry '-'/'*': {text!r}", path=path, line=line)
    acc = m["acc"] or ""
    if m["sref"]:
        if end is not None or m["sref"] == m["salt"]:
            raise HGVSParseError(f"invalid substitution: {text!r}", path=path, line=line)
        return CVariant(m["coord"], start, None, "sub", m["sref"], m["salt"], acc)
    if m["dalt"]:
        return CVariant(m["coord"], start, end, "delins", m["dref"], m["dalt"], acc)
    if m["ialt"]:
        if end is None:
            raise HGVSParseError(
                f"an insertion needs two flanking positions: {text!r}", path=path, line=line
            )
        return CVariant(m["coord"], start, end, "ins", "", m["ialt"], acc)
    if m["op"]:
        return CVariant(m["coord"], start, end, m["op"], m["oref"], "", acc)
    return CVariant(m["coord"], start, end, "identity", m["idref"] or "", "", acc)


# ----------------------------------------------------------------------------- p.


@dataclass(frozen=True)
class PVariant:
    """A parsed ``p.`` description.

    Attributes
    ----------
    kind
        One of :data:`P_KINDS`.
    predicted
        The description was written in parentheses (predicted consequence).
    ref_aa, pos
        First affected residue (three-letter code, ``Ter`` for the stop) and its position.
    end_aa, end_pos
        Last affected residue of a range (``''`` / ``0`` when a single residue).
    alt
        New residues (three-letter codes): the substituted residue, the inserted residues,
        the first new residue of a frameshift or extension.
    new_stop
        Frameshift / extension: position of the new stop counted from the first changed
        residue (``fsTer51`` → 51); ``None`` when written ``?`` or absent; for an
        N-terminal extension ``Met1ext-5`` it is ``-5``.
    accession
        The protein accession before ``:`` (``''`` if none).
    """

    kind: str
    predicted: bool = False
    ref_aa: str = ""
    pos: int = 0
    end_aa: str = ""
    end_pos: int = 0
    alt: tuple[str, ...] = ()
    new_stop: int | None = None
    accession: str = ""

    def format(self) -> str:
        """The HGVS text (three-letter codes, ``Ter`` for stops)."""
        first = f"{self.ref_aa}{self.pos}"
        rng = first + (f"_{self.end_aa}{self.end_pos}" if self.end_pos else "")
        alt = "".join(self.alt)
        stop = "?" if self.new_stop is None else str(self.new_stop)
        body = {
            "unknown": "?",
            "identity": "=",
            "no_protein": "0",
            "sub": f"{first}{alt}",
            "synonymous": f"{first}=",
            "start_unknown": f"{first}?",
            "fs": f"{first}{alt}fsTer{stop}",
            "del": f"{rng}del",
            "dup": f"{rng}dup",
            "ins": f"{rng}ins{alt}",
            "delins": f"{rng}delins{alt}",
            "ext": f"{first}{alt}ext"
            + (f"{self.new_stop}" if self.ref_aa == "Met" else f"Ter{stop}"),
        }[self.kind]
        if self.predicted and self.kind not in ("unknown",):
            body = f"({body})"
        text = f"p.{body}"
        return f"{self.accession}:{text}" if self.accession else text


_AA = r"(?:[A-Z][a-z]{2}|\*)"
_P_BODY = re.compile(
    rf"^(?P<ref>{_AA})(?P<pos>\d+)"
    rf"(?:_(?P<eref>{_AA})(?P<epos>\d+))?"
    rf"(?P<rest>.*)$"
)
_AA_SEQ = re.compile(rf"^(?:{_AA})+$")


def _aa(token: str, text: str, path: str | None, line: int | None) -> str:
    token = "Ter" if token == "*" else token
    if token not in AA3_TO_1:
        raise HGVSParseError(f"unknown amino acid {token!r} in {text!r}", path=path, line=line)
    return token


def _aa_seq(seq: str, text: str, path: str | None, line: int | None) -> tuple[str, ...]:
    if not _AA_SEQ.match(seq):
        raise HGVSParseError(
            f"not an amino-acid sequence: {seq!r} in {text!r}", path=path, line=line
        )
    return tuple(_aa(t, text, path, line) for t in re.findall(_AA, seq))


def parse_p(text: str, *, path: str | None = None, line: int | None = None) -> PVariant:
    """Parse a ``p.`` description, with or without its accession.

    Parameters
    ----------
    text
        e.g. ``"NP_078942.3:p.(Asn59IlefsTer51)"``, ``"p.Leu5%3D"``, ``"p.Arg2030*"``.
    path, line
        Where the text came from (for the error message).

    Returns
    -------
    PVariant

    Raises
    ------
    HGVSParseError
        When the text is not in the grammar (see the module docstring).
    """
    raw = text.strip().replace("%3D", "=")
    acc = ""
    if ":" in raw:
        acc, raw = raw.rsplit(":", 1)
    if not raw.startswith("p."):
        raise HGVSParseError(f"not a p. description: {text!r}", path=path, line=line)
    body = raw[2:]
    predicted = body.startswith("(") and body.endswith(")")
    if predicted:
        body = body[1:-1]
    if body in ("?", "=", "0"):
        kind = {"?": "unknown", "=": "identity", "0": "no_protein"}[body]
        return PVariant(kind, predicted=predicted and kind != "unknown", accession=acc)
    m = _P_BODY.match(body)
    if m is None:
        raise HGVSParseError(
            f"not a p. description this parser accepts: {text!r}", path=path, line=line
        )
    ref = _aa(m["ref"], text, path, line)
    pos = int(m["pos"])
    eref = _aa(m["eref"], text, path, line) if m["eref"] else ""
    epos = int(m["epos"]) if m["epos"] else 0
    if pos < 1 or (epos and epos <= pos):
        raise HGVSParseError(f"invalid protein position range in {text!r}", path=path, line=line)
    rest = m["rest"]
    common = {"predicted": predicted, "ref_aa": ref, "pos": pos, "accession": acc}
    single = not epos

    def bad() -> HGVSParseError:
        return HGVSParseError(
            f"not a p. description this parser accepts: {text!r}", path=path, line=line
        )

    if rest in ("del", "dup"):
        return PVariant(rest, end_aa=eref, end_pos=epos, **common)
    if rest.startswith("delins"):
        return PVariant(
            "delins", end_aa=eref, end_pos=epos, alt=_aa_seq(rest[6:], text, path, line), **common
        )
    if rest.startswith("ins"):
        if single or epos != pos + 1:
            raise bad()
        return PVariant(
            "ins", end_aa=eref, end_pos=epos, alt=_aa_seq(rest[3:], text, path, line), **common
        )
    if not single:
        raise bad()
    if rest == "=":
        return PVariant("synonymous", **common)
    if rest == "?":
        return PVariant("start_unknown", **common)
    fm = re.match(rf"^(?P<alt>{_AA})?fs(?:(?:Ter|\*)(?P<stop>\d+|\?))?$", rest)
    if fm:
        alt = (_aa(fm["alt"], text, path, line),) if fm["alt"] else ()
        stop = fm["stop"]
        return PVariant(
            "fs", alt=alt, new_stop=int(stop) if stop and stop != "?" else None, **common
        )
    em = re.match(rf"^(?P<alt>{_AA})?ext(?:(?:Ter|\*)(?P<stop>\d+|\?)|(?P<nterm>-\d+))$", rest)
    if em:
        alt = (_aa(em["alt"], text, path, line),) if em["alt"] else ()
        if em["nterm"]:
            if ref != "Met":
                raise bad()
            return PVariant("ext", alt=alt, new_stop=int(em["nterm"]), **common)
        if ref != "Ter":
            raise bad()
        stop = em["stop"]
        return PVariant("ext", alt=alt, new_stop=int(stop) if stop != "?" else None, **common)
    if re.fullmatch(_AA, rest):
        alt_aa = _aa(rest, text, path, line)
        if alt_aa == ref:
            return PVariant("synonymous", **common)
        return PVariant("sub", alt=(alt_aa,), **common)
    raise bad()
