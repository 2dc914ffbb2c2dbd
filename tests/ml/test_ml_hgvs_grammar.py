"""The strict HGVS c./n./p. parser: hand cases, rejections and hypothesis round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genoma.errors import MalformedInputError
from genoma.ml.hgvs_grammar import (
    AA3,
    CPosition,
    CVariant,
    HGVSParseError,
    PVariant,
    parse_c,
    parse_p,
)


def test_c_hand_cases():
    v = parse_c("NM_000350.3:c.6088C>T")
    assert (v.accession, v.coordinate, v.edit, v.ref, v.alt) == (
        "NM_000350.3",
        "c",
        "sub",
        "C",
        "T",
    )
    assert v.start == CPosition(6088) and v.end is None
    v = parse_c("c.870+1G>A")
    assert v.start == CPosition(870, "", 1)
    v = parse_c("ENST00000400588.1:c.*46C>A")
    assert v.start == CPosition(46, "*", 0)
    v = parse_c("c.-19-25T>C")
    assert v.start == CPosition(19, "-", -25)
    v = parse_c("NM_144670.4:c.2478_2485dupGGCTAAAT")
    assert v.edit == "dup" and v.inserted_length == 8 and v.net_length == 8
    v = parse_c("c.2126-7_2126-3delACCAT")
    assert v.edit == "del" and v.deleted_length == 5
    v = parse_c("c.2126-7_2126-3del")
    assert v.deleted_length == 5  # within one intron
    v = parse_c("c.506_507insAA")
    assert v.edit == "ins" and v.net_length == 2
    v = parse_c("c.100_102delinsGT")
    assert v.edit == "delins" and v.deleted_length == 3 and v.net_length == -1
    assert parse_c("n.946del").coordinate == "n"
    assert parse_c("c.100_101-20del").deleted_length is None  # exon + intron: unknown length


@pytest.mark.parametrize(
    "bad",
    [
        "NM_000075.4:c.367C > T",  # spaces
        "NM_000090.4:c.[1546G>T;1556G>T]",  # allele
        "NC_012920.1:m.1661A>G",  # m. not in scope
        "c.0A>G",  # no position 0
        "c.12A>A",  # not a change
        "c.12_13A>G",  # substitution of a range
        "c.12insA",  # insertion needs two flanks
        "c.(?_-1)_(100+1_101-1)del",  # uncertain positions
        "n.-12A>G",  # n. has no UTR prefix
        "c.12ins(10)",
    ],
)
def test_c_rejects(bad):
    with pytest.raises(HGVSParseError) as exc:
        parse_c(bad, path="cases.jsonl", line=3)
    assert isinstance(exc.value, MalformedInputError) and exc.value.exit_code == 4
    assert "cases.jsonl:3" in str(exc.value)


def test_p_hand_cases():
    p = parse_p("NP_078942.3:p.(Asn59IlefsTer51)")
    assert (p.kind, p.predicted, p.ref_aa, p.pos, p.alt, p.new_stop) == (
        "fs",
        True,
        "Asn",
        59,
        ("Ile",),
        51,
    )
    assert parse_p("p.Arg2030*") == PVariant("sub", ref_aa="Arg", pos=2030, alt=("Ter",))
    assert parse_p("ENSP1:p.Leu5%3D").kind == "synonymous"
    assert parse_p("p.(Leu5=)").kind == "synonymous"
    assert parse_p("p.Leu5Leu").kind == "synonymous"
    assert parse_p("p.?").kind == "unknown"
    assert parse_p("p.(=)").kind == "identity"
    assert parse_p("p.0").kind == "no_protein"
    assert parse_p("p.Met1?").kind == "start_unknown"
    p = parse_p("p.Ter339GlnextTer1")
    assert (p.kind, p.ref_aa, p.alt, p.new_stop) == ("ext", "Ter", ("Gln",), 1)
    assert parse_p("p.Met1ext-5").new_stop == -5
    assert parse_p("p.Tyr345ValfsTer?").new_stop is None
    assert parse_p("p.Asn59fs").alt == ()
    p = parse_p("p.Lys23_Leu24insArgSer")
    assert (p.kind, p.end_pos, p.alt) == ("ins", 24, ("Arg", "Ser"))
    p = parse_p("p.Cys28_Lys29delinsTrp")
    assert (p.kind, p.pos, p.end_pos, p.alt) == ("delins", 28, 29, ("Trp",))
    assert parse_p("p.Val7del").kind == "del"
    assert parse_p("p.Val7_Gly9dup").kind == "dup"


@pytest.mark.parametrize(
    "bad",
    [
        "p.R12W",
        "p.Arg12Xyz",
        "p.Lys23_Leu25insArg",
        "p.Arg12_Gly10del",
        "p.Gln5extTer3",
        "c.12A>G",
        "p.Arg12",
    ],
)
def test_p_rejects(bad):
    with pytest.raises(HGVSParseError):
        parse_p(bad)


# ----------------------------------------------------------------------------- round trips

_bases = st.text(alphabet="ACGT", min_size=1, max_size=12)


@st.composite
def c_positions(draw, coordinate: str = "c"):
    region = "" if coordinate == "n" else draw(st.sampled_from(["", "-", "*"]))
    base = draw(st.integers(1, 100_000))
    offset = draw(st.one_of(st.just(0), st.integers(-5000, -1), st.integers(1, 5000)))
    return CPosition(base, region, offset)


@st.composite
def c_variants(draw):
    coordinate = draw(st.sampled_from(["c", "n"]))
    start = draw(c_positions(coordinate))
    edit = draw(st.sampled_from(["sub", "del", "dup", "ins", "delins", "inv", "identity"]))
    acc = draw(st.sampled_from(["", "NM_000350.3", "ENST00000400588.1", "NM_004006.2(DMD)"]))
    end = draw(st.one_of(st.none(), c_positions(coordinate))) if edit != "sub" else None
    if edit == "ins" and end is None:
        end = draw(c_positions(coordinate))
    ref = alt = ""
    if edit == "sub":
        ref = draw(st.sampled_from("ACGT"))
        alt = draw(st.sampled_from([b for b in "ACGT" if b != ref]))
    elif edit in ("del", "dup", "inv", "identity"):
        ref = draw(st.one_of(st.just(""), _bases))
    elif edit == "ins":
        alt = draw(_bases)
    else:
        ref = draw(st.one_of(st.just(""), _bases))
        alt = draw(_bases)
    return CVariant(coordinate, start, end, edit, ref, alt, acc)


@given(c_variants())
def test_c_round_trip(v):
    text = v.format()
    assert parse_c(text) == v
    assert parse_c(text).format() == text


_aa = st.sampled_from([a for a in AA3 if a not in ("Ter", "Sec", "Xaa")])


@st.composite
def p_variants(draw):
    kind = draw(
        st.sampled_from(
            [
                "unknown",
                "identity",
                "no_protein",
                "sub",
                "synonymous",
                "start_unknown",
                "fs",
                "del",
                "dup",
                "ins",
                "delins",
                "ext",
            ]
        )
    )
    predicted = draw(st.booleans()) and kind != "unknown"
    acc = draw(st.sampled_from(["", "NP_078942.3", "ENSP00000383431"]))
    if kind in ("unknown", "identity", "no_protein"):
        return PVariant(kind, predicted=predicted, accession=acc)
    ref = draw(_aa)
    pos = draw(st.integers(1, 5000))
    common = {"predicted": predicted, "ref_aa": ref, "pos": pos, "accession": acc}
    if kind == "sub":
        alt = draw(st.one_of(_aa, st.just("Ter")).filter(lambda a: a != ref))
        return PVariant("sub", alt=(alt,), **common)
    if kind in ("synonymous", "start_unknown"):
        return PVariant(kind, **common)
    if kind == "fs":
        alt = draw(st.one_of(st.just(()), _aa.map(lambda a: (a,))))
        stop = draw(st.one_of(st.none(), st.integers(1, 500)))
        return PVariant("fs", alt=alt, new_stop=stop, **common)
    if kind == "ext":
        alt = draw(st.one_of(st.just(()), _aa.map(lambda a: (a,))))
        if draw(st.booleans()):
            common["ref_aa"] = "Ter"
            return PVariant(
                "ext", alt=alt, new_stop=draw(st.one_of(st.none(), st.integers(1, 300))), **common
            )
        common["ref_aa"], common["pos"] = "Met", 1
        return PVariant("ext", alt=alt, new_stop=-draw(st.integers(1, 50)), **common)
    seq = tuple(draw(st.lists(_aa, min_size=1, max_size=5)))
    if kind == "ins":
        return PVariant("ins", end_aa=draw(_aa), end_pos=pos + 1, alt=seq, **common)
    end_pos = draw(st.one_of(st.just(0), st.integers(pos + 1, pos + 50)))
    end_aa = draw(_aa) if end_pos else ""
    return PVariant(
        kind, end_aa=end_aa, end_pos=end_pos, alt=seq if kind == "delins" else (), **common
    )


@given(p_variants())
def test_p_round_trip(v):
    text = v.format()
    assert parse_p(text) == v
    assert parse_p(text).format() == text
