"""ACMG/AMP criteria: each rule with a case that fires and one that does not; combiners."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genoma.annotate import acmg
from genoma.annotate.acmg import (
    AcmgConfig,
    Criterion,
    Strength,
    TranscriptFacts,
    VariantContext,
    classify_points,
    combine_richards,
    parse_criterion,
    tavtigian_points,
)
from genoma.errors import MalformedInputError
from genoma.kb.clinvar import ClinVarRecord, ProteinChange
from genoma.kb.frequencies import AlleleFrequency

# 5 exons of 200 nt; CDS from cDNA 101 to 900 (stop 898-900): 265 residues + stop.
TX = TranscriptFacts("T1", ((1, 200), (201, 400), (401, 600), (601, 800), (801, 1000)), 101, 900)


def ctx(cons: str, **kw) -> VariantContext:
    base = {"chrom": "chr1", "pos": 1000, "ref": "C", "alt": "T", "gene": "G1", "transcript": "T1"}
    base.update(kw)
    return VariantContext(consequences=tuple(cons.split("&")), **base)


def cv(pos: int, alt: str, klass: str = "P", stars: int = 2, vid: str = "1") -> ClinVarRecord:
    sig = {"P": "Pathogenic", "LP": "Likely_pathogenic", "B": "Benign"}[klass]
    return ClinVarRecord("chr1", pos, "C", alt, vid, sig, klass, "x", stars)


# -- PVS1 ------------------------------------------------------------------------------
def test_pvs1_nonsense_with_nmd():
    # residue 20: cDNA 101 + 57 = 158, far upstream of the last junction (800)
    c = acmg.pvs1(ctx("stop_gained", protein_position=20, hgvsp="P1:p.Trp20Ter"), TX)
    assert c is not None and c.label == "PVS1" and "NMD predicted" in c.reason
    assert "assumed" in c.reason


def test_pvs1_nmd_escape_strengths():
    # last exon (cDNA > 800): residue 235 → cDNA 803; 31/265 ≈ 11.7 % removed → Strong
    c = acmg.pvs1(ctx("stop_gained", protein_position=235, hgvsp="P1:p.Trp235Ter"), TX)
    assert c is not None and c.strength == Strength.STRONG and "NMD escape" in c.reason
    # residue 260: 7 residues removed → Moderate
    c = acmg.pvs1(ctx("stop_gained", protein_position=260, hgvsp="P1:p.Trp260Ter"), TX)
    assert c is not None and c.label == "PVS1_Moderate"
    # within 50 nt of the last junction: residue 225 → cDNA 773 (> 750) → escape
    c = acmg.pvs1(ctx("stop_gained", protein_position=225, hgvsp="P1:p.Trp225Ter"), TX)
    assert c is not None and c.strength == Strength.STRONG and "within 50 nt" in c.reason


def test_pvs1_frameshift_uses_new_stop():
    # starts at residue 200 (cDNA 698) but the new stop is 40 codons later (cDNA 815): escape
    c = acmg.pvs1(ctx("frameshift_variant", protein_position=200, hgvsp="P1:p.Leu200ProfsTer40"), TX)
    assert c is not None and c.strength != Strength.VERY_STRONG
    c = acmg.pvs1(ctx("frameshift_variant", protein_position=10, hgvsp="P1:p.Leu10ProfsTer5"), TX)
    assert c is not None and c.strength == Strength.VERY_STRONG


def test_pvs1_splice_frame_rules():
    # donor of intron 1: exon 1 has 100 coding nt (not a multiple of 3) → out of frame, NMD
    c = acmg.pvs1(ctx("splice_donor_variant", intron=1, hgvsc="T1:c.100+1G>A"), TX)
    assert c is not None and c.label == "PVS1"
    # in-frame exon: build one with 201 coding nt in exon 3
    tx = TranscriptFacts("T2", ((1, 200), (201, 400), (401, 601), (602, 800), (801, 1000)), 101, 900)
    c = acmg.pvs1(ctx("splice_acceptor_variant", intron=2), tx)
    assert c is not None and c.strength == Strength.STRONG and "keeps the frame" in c.reason


def test_pvs1_start_lost_and_not_met():
    c = acmg.pvs1(ctx("start_lost", protein_position=1, hgvsp="P1:p.Met1?"), TX)
    assert c is not None and c.label == "PVS1_Moderate"
    assert acmg.pvs1(ctx("missense_variant", protein_position=5), TX) is None
    assert acmg.pvs1(ctx("stop_gained", protein_position=20, hgvsp="P1:p.Trp20Ter"), TX,
                     lof_mechanism=False) is None


def test_last_exon_only_transcript_has_no_nmd():
    single = TranscriptFacts("T3", ((1, 1000),), 101, 900)
    c = acmg.pvs1(ctx("stop_gained", protein_position=20, hgvsp="P1:p.Trp20Ter"), single)
    assert c is not None and c.strength == Strength.STRONG


# -- frequencies --------------------------------------------------------------------------
def test_pm2_absent_and_not_without_data():
    got = acmg.ba1_bs1_bs2_pm2(None, checked=True, label="gnomAD")
    assert [c.label for c in got] == ["PM2_Supporting"] and "gnomAD" in got[0].reason
    assert acmg.ba1_bs1_bs2_pm2(None, checked=False) == []
    seen = AlleleFrequency(af=1e-5, ac=1, an=100000, faf95=5e-7)
    assert acmg.ba1_bs1_bs2_pm2(seen, checked=True) == []
    cfg = AcmgConfig(pm2_max=1e-4)
    assert [c.label for c in acmg.ba1_bs1_bs2_pm2(seen, checked=True, config=cfg)] == ["PM2_Supporting"]


def test_ba1_bs1():
    common = AlleleFrequency(af=0.2, ac=2000, an=10000, popmax_af=0.3, popmax_pop="afr", popmax_an=4000,
                             faf95=0.28)
    assert [c.label for c in acmg.ba1_bs1_bs2_pm2(common, checked=True)] == ["BA1"]
    small_pop = AlleleFrequency(af=0.2, ac=20, an=100, popmax_af=0.3, popmax_an=100, faf95=0.2)
    assert [c.code for c in acmg.ba1_bs1_bs2_pm2(small_pop, checked=True)] == ["BS1"]
    mid = AlleleFrequency(af=0.02, ac=200, an=10000, faf95=0.018)
    assert [c.code for c in acmg.ba1_bs1_bs2_pm2(mid, checked=True)] == ["BS1"]
    assert acmg.ba1_bs1_bs2_pm2(mid, checked=True, config=AcmgConfig(bs1=0.05)) == []


def test_bs2_needs_inheritance():
    f = AlleleFrequency(af=0.001, ac=100, an=100000, hom=3, faf95=0.0008)
    assert acmg.ba1_bs1_bs2_pm2(f, checked=True, gene="G1") == []
    got = acmg.ba1_bs1_bs2_pm2(f, checked=True, gene="G1", config=AcmgConfig(inheritance={"G1": "AR"}))
    assert [c.code for c in got] == ["BS2"]
    f1 = AlleleFrequency(af=0.001, ac=100, an=100000, hom=1, faf95=0.0008)
    assert acmg.ba1_bs1_bs2_pm2(f1, checked=True, gene="G1", config=AcmgConfig(inheritance={"G1": "AR"})) == []


# -- PS1 / PM5 ----------------------------------------------------------------------------
def test_ps1_pm5():
    v = ctx("missense_variant", pos=1000, alt="T", protein_position=12, ref_aa="R", alt_aa="W")
    other_nt = cv(1002, "A", vid="7")  # another nucleotide change, same R12W
    got = acmg.ps1_pm5(v, [other_nt], [])
    assert [c.code for c in got] == ["PS1"] and "7" in got[0].reason
    own = cv(1000, "T", vid="8")  # the variant's own record never counts
    assert acmg.ps1_pm5(v, [own], []) == []
    zero_star = cv(1002, "A", stars=0)
    assert acmg.ps1_pm5(v, [zero_star], []) == []
    benign = cv(1002, "A", klass="B")
    assert acmg.ps1_pm5(v, [benign], []) == []
    pm5 = acmg.ps1_pm5(v, [], [(ProteinChange("T1", 12, "R", "Q"), cv(1001, "G", klass="LP"))])
    assert [c.code for c in pm5] == ["PM5"] and "R12Q" in pm5[0].reason
    assert acmg.ps1_pm5(ctx("synonymous_variant"), [other_nt], []) == []


# -- PP3 / BP4 ----------------------------------------------------------------------------
@pytest.mark.parametrize(("score", "label"), [
    (0.95, "PP3_Strong"), (0.8, "PP3_Moderate"), (0.7, "PP3"), (0.5, None), (0.25, "BP4"),
    (0.1, "BP4_Moderate"), (0.01, "BP4_Strong"), (0.001, "BP4_Strong"),
])
def test_pp3_bp4_revel(score, label):
    c = acmg.pp3_bp4(ctx("missense_variant"), {"REVEL": score})
    assert (c.label if c else None) == label


def test_pp3_bp4_other_tools_and_not_missense():
    assert acmg.pp3_bp4(ctx("missense_variant"), {"SIFT": 0.0}).label == "PP3_Moderate"
    assert acmg.pp3_bp4(ctx("missense_variant"), {"SIFT": 0.5}).label == "BP4_Moderate"
    assert acmg.pp3_bp4(ctx("missense_variant"), {"cadd": 30}).label == "PP3_Moderate"
    # REVEL has priority over CADD even when REVEL is indeterminate
    assert acmg.pp3_bp4(ctx("missense_variant"), {"REVEL": 0.5, "CADD": 30}) is None
    assert acmg.pp3_bp4(ctx("synonymous_variant"), {"REVEL": 0.99}) is None


# -- PM4 / BP3 / BP7 / PM1 ----------------------------------------------------------------
def test_pm4_bp3():
    v = ctx("inframe_deletion", pos=500, ref="CAAG", alt="C", hgvsp="P:p.Lys5del")
    assert acmg.pm4_bp3(v).code == "PM4"
    assert acmg.pm4_bp3(v, repeats={"chr1": [(490, 510)]}).code == "BP3"
    assert acmg.pm4_bp3(ctx("stop_lost")).code == "PM4"
    assert acmg.pm4_bp3(ctx("missense_variant")) is None


def test_bp7():
    assert acmg.bp7(ctx("synonymous_variant")).code == "BP7"
    assert acmg.bp7(ctx("splice_region_variant&synonymous_variant")) is None
    assert acmg.bp7(ctx("synonymous_variant"), splice_score=0.5) is None
    assert acmg.bp7(ctx("missense_variant")) is None


def test_pm1_hook():
    v = ctx("missense_variant", protein_position=50)
    assert acmg.pm1(v) is None
    assert acmg.pm1(v, hotspots={"G1": [(40, 60)]}).code == "PM1"
    assert acmg.pm1(v, hotspots={"G1": [(70, 80)]}) is None


# -- labels, manual, combination ---------------------------------------------------------
def test_parse_criterion_and_manual():
    assert parse_criterion("PP1_Moderate").label == "PP1_Moderate"
    assert parse_criterion("ps3").label == "PS3"
    assert parse_criterion("PVS1_Strong").points == 4
    with pytest.raises(ValueError):
        parse_criterion("XX1")
    with pytest.raises(ValueError):
        parse_criterion("PS3_Huge")
    key, crit = acmg.parse_manual_line("1\t100\tc\tt\tPS3,PM6\tfunctional assay\n")
    assert key == ("chr1", 100, "C", "T") and [c.label for c in crit] == ["PS3", "PM6"]
    assert crit[0].manual and crit[0].reason == "functional assay"
    with pytest.raises(MalformedInputError) as e:
        acmg.parse_manual_line("1\tx\tC\tT\tPS3", path="m.tsv", line_no=3)
    assert "m.tsv" in str(e.value) and "3" in str(e.value)
    merged = acmg.apply_manual([Criterion("PM2", Strength.SUPPORTING, "absent")],
                               [parse_criterion("PM2"), parse_criterion("PS3")])
    assert sorted(c.label for c in merged) == ["PM2", "PS3"]


def test_richards_rules():
    P = parse_criterion
    assert combine_richards([P("PVS1"), P("PS3")])[0] == "Pathogenic"
    assert combine_richards([P("PVS1"), P("PM2_Supporting")])[0] == "Likely_pathogenic"
    assert combine_richards([P("PVS1")])[0] == "Uncertain_significance"
    assert combine_richards([P("PS1"), P("PS3")])[0] == "Pathogenic"
    assert combine_richards([P("PM1"), P("PM2"), P("PM5")])[0] == "Likely_pathogenic"
    assert combine_richards([P("BA1")])[0] == "Benign"
    assert combine_richards([P("BS1"), P("BP4")])[0] == "Likely_benign"
    assert combine_richards([P("PVS1"), P("PS3"), P("BS1"), P("BS2")])[0] == "Uncertain_significance"


def test_points_classes():
    P = parse_criterion
    assert tavtigian_points([P("PVS1"), P("PM2_Supporting")]) == 9
    assert classify_points(9) == "Likely_pathogenic" and classify_points(10) == "Pathogenic"
    assert classify_points(5) == "Uncertain_significance" and classify_points(-1) == "Likely_benign"
    assert classify_points(-7) == "Benign" and classify_points(12, ba1=True) == "Benign"


_LABELS = ["PVS1", "PVS1_Strong", "PS1", "PS3", "PS3_Moderate", "PM1", "PM2", "PM2_Supporting", "PM4",
           "PM5", "PP1", "PP3", "PP3_Strong", "BS1", "BS2", "BP4", "BP4_Moderate", "BP7", "BS3_Supporting"]
_ORDER = {c: i for i, c in enumerate(acmg.CLASSES)}


@given(st.lists(st.sampled_from(_LABELS), max_size=8), st.sampled_from(_LABELS))
def test_points_combiner_properties(labels, extra):
    crit = [parse_criterion(x) for x in labels]
    pts = tavtigian_points(crit)
    assert pts == sum(c.points for c in crit)
    klass = classify_points(pts)
    # adding pathogenic evidence never makes the class more benign (and vice versa)
    more = parse_criterion(extra)
    k2 = classify_points(tavtigian_points([*crit, more]))
    if more.pathogenic:
        assert _ORDER[k2] <= _ORDER[klass]
    else:
        assert _ORDER[k2] >= _ORDER[klass]
    # Richards P/LP without benign evidence implies points P/LP; LB/B without pathogenic likewise
    rich = combine_richards(crit)[0]
    if rich in ("Pathogenic", "Likely_pathogenic") and all(c.pathogenic for c in crit):
        assert klass in ("Pathogenic", "Likely_pathogenic")
    if rich in ("Benign", "Likely_benign") and not any(c.pathogenic for c in crit):
        assert klass in ("Benign", "Likely_benign")


def test_evaluate_end_to_end():
    v = ctx("stop_gained", protein_position=20, hgvsp="P1:p.Trp20Ter", hgvsc="T1:c.58T>A")
    r = acmg.evaluate(v, tx=TX, freq=None, freq_checked=True)
    assert r.labels == "PVS1&PM2_Supporting"
    assert r.richards == "Likely_pathogenic" and r.points == 9 and r.points_class == "Likely_pathogenic"
    r2 = acmg.evaluate(v, tx=TX, freq=None, freq_checked=True, manual=[parse_criterion("PS3")])
    assert r2.richards == "Pathogenic" and r2.points == 13
