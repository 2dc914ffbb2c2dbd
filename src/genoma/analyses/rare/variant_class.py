"""Variant classes for the genotype evidence: from HGVS text or from annotated consequences.

The genotype likelihood ratio weighs a variant by its class (:data:`VARIANT_CLASSES`):
``P(class | causal) / P(class | background allele)``. Causal variants known only from
the literature carry HGVS ``c.``/``p.`` text (phenopackets); background variants get
their class from genoma's annotator (VEP-style SO terms). Both map to the same classes:

========================  ==========================================================
class                     from
========================  ==========================================================
``lof``                   stop gained, frameshift, start lost, stop lost, ``p.0``
``splice``                splice donor / acceptor (intronic offset ±1, ±2)
``missense``              missense (an amino-acid substitution; also a coding
                          change whose effect is unknown)
``inframe``               in-frame insertion / deletion / duplication / delins
``splice_region``         intronic offsets ±3…±8, splice region
``synonymous``            ``p.(Arg12=)``, synonymous variant
``utr``                   5' / 3' UTR (``c.-N``, ``c.*N``)
``non_coding``            intronic beyond ±8, non-coding transcript, up/downstream
``unknown``               no usable description
========================  ==========================================================

HGVS is read with the strict parser of :mod:`genoma.ml.hgvs_grammar`; a description it
rejects gives ``unknown`` (never a guess).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["VARIANT_CLASSES", "class_from_consequence", "class_from_hgvs"]

#: The classes, most severe first.
VARIANT_CLASSES: tuple[str, ...] = ("lof", "splice", "missense", "inframe", "splice_region",
                                    "synonymous", "utr", "non_coding", "unknown")

_SO_CLASS: dict[str, str] = {
    "transcript_ablation": "lof",
    "stop_gained": "lof",
    "frameshift_variant": "lof",
    "start_lost": "lof",
    "stop_lost": "lof",
    "splice_donor_variant": "splice",
    "splice_acceptor_variant": "splice",
    "missense_variant": "missense",
    "protein_altering_variant": "missense",
    "coding_sequence_variant": "missense",  # in the CDS, amino-acid effect unknown
    "inframe_insertion": "inframe",
    "inframe_deletion": "inframe",
    "splice_region_variant": "splice_region",
    "splice_donor_5th_base_variant": "splice_region",
    "splice_donor_region_variant": "splice_region",
    "splice_polypyrimidine_tract_variant": "splice_region",
    "synonymous_variant": "synonymous",
    "stop_retained_variant": "synonymous",
    "start_retained_variant": "synonymous",
    "5_prime_UTR_variant": "utr",
    "3_prime_UTR_variant": "utr",
}
_RANK = {c: i for i, c in enumerate(VARIANT_CLASSES)}


def _strip_accession(text: str) -> str:
    return text.split(":", 1)[1] if ":" in text else text


def class_from_hgvs(hgvs_c: str | None, hgvs_p: str | None) -> str:
    """The variant class of an HGVS ``c.`` and/or ``p.`` description.

    Parameters
    ----------
    hgvs_c
        ``NM_…:c.…`` (accession optional) or ``None``.
    hgvs_p
        ``NP_…:p.…`` or ``None``.

    Returns
    -------
    str
        One of :data:`VARIANT_CLASSES`; ``unknown`` when neither description parses.

    Examples
    --------
    >>> class_from_hgvs("NM_024666.5:c.174del", "NP_078942.3:p.(Asn59IlefsTer51)")
    'lof'
    >>> class_from_hgvs("NM_024666.5:c.870+1G>A", "p.?")
    'splice'
    """
    from genoma.ml.hgvs_grammar import HGVSParseError, parse_c, parse_p

    cv = pv = None
    if hgvs_c:
        try:
            cv = parse_c(_strip_accession(hgvs_c.strip()))
        except HGVSParseError:
            cv = None
    if hgvs_p:
        try:
            pv = parse_p(_strip_accession(hgvs_p.strip()))
        except HGVSParseError:
            pv = None
    if cv is not None and cv.coordinate != "c":
        cv = None
    # splice sites first: a p.? or even a predicted p. does not override c.N+1
    if cv is not None:
        offs = [p.offset for p in (cv.start, cv.end) if p is not None]
        if (cv.end is not None and cv.edit in ("del", "delins", "dup", "inv")
                and any(o != 0 for o in offs) and cv.start.base != cv.end.base
                and cv.start.region == cv.end.region == ""):
            return "lof"  # a range across exon boundaries (exon deletion / duplication)
        exonic = [p for p in (cv.start, cv.end) if p is not None and p.offset == 0]
        if any(1 <= abs(o) <= 2 for o in offs) or (
                offs and any(o != 0 for o in offs) and exonic and cv.edit != "sub"):
            return "splice"
    if pv is not None:
        if pv.kind in ("fs", "no_protein", "start_unknown", "ext"):
            return "lof"
        if pv.kind == "sub":
            return "lof" if pv.alt and pv.alt[0] in ("Ter", "*") else "missense"
        if pv.kind in ("del", "dup", "ins", "delins"):
            if any(a in ("Ter", "*") for a in pv.alt):
                return "lof"
            return "inframe"
        if pv.kind in ("synonymous", "identity"):
            return "synonymous"
    if cv is None:
        return "unknown"
    pos = [p for p in (cv.start, cv.end) if p is not None]
    offs = [abs(p.offset) for p in pos]
    if any(o > 0 for o in offs):
        return "splice_region" if min(o for o in offs if o > 0) <= 8 else "non_coding"
    if all(p.region in ("-", "*") for p in pos):
        return "utr"
    if cv.edit == "identity":
        return "synonymous"
    if cv.edit == "sub":
        # a coding substitution without p.: amino-acid change unknown
        return "missense"
    net = cv.net_length
    if net is None:
        return "unknown"
    if cv.edit == "inv":
        return "lof" if (cv.deleted_length or 0) > 3 else "missense"
    return "inframe" if net % 3 == 0 else "lof"


def class_from_consequence(terms: Iterable[str]) -> str:
    """The most severe class of SO consequence terms (``&``-joined strings accepted).

    Terms outside the table (intron, non-coding transcript, up/downstream …) give
    ``non_coding``; an empty input gives ``unknown``.
    """
    best = None
    for t in terms:
        for so in t.split("&"):
            so = so.strip()
            if not so:
                continue
            c = _SO_CLASS.get(so, "non_coding")
            if best is None or _RANK[c] < _RANK[best]:
                best = c
    return best or "unknown"
