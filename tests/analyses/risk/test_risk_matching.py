"""Variant matching as pgsc_calc: match types, ambiguity, multi-allelics, duplicates, guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from risk_testutil import make_target, write_scorefile

from genoma.analyses.risk.matching import MatchPolicy, check_overlap, match_report, match_score
from genoma.errors import InconsistentInputError
from genoma.io.pgs import read_scoring_file


def _score(tmp_path: Path, rows: list[tuple], build: str = "GRCh38", name: str = "S"):
    recs = [{"rsID": r[0], "chr_name": r[1], "chr_position": r[2], "effect_allele": r[3],
             "other_allele": r[4], "effect_weight": r[5]} for r in rows]
    return read_scoring_file(write_scorefile(tmp_path / f"{name}.txt", recs,
                                             {"pgs_id": name, "genome_build": build}))


def _target(build: str = "GRCh38"):
    #          0        1        2        3         4        5        6       7
    chrom = ["chr1"] * 8
    pos = [10, 20, 30, 40, 50, 50, 60, 70]
    ref = ["A", "A", "A", "A", "C", "C", "AT", "G"]
    alt = ["G", "G", "C", "T", "A", "T", "A", "A"]
    multi = [False, False, False, False, True, True, False, False]
    ids = ["rs1", "rs2", "rs3", "rs4", "rs5", "rs5", "rs6", "rs7"]
    return make_target(chrom, pos, ref, alt, np.zeros((8, 3)), build=build, ids=ids,
                       multiallelic=multi)


def test_match_types_and_effect_orientation(tmp_path: Path) -> None:
    s = _score(tmp_path, [
        ("rs1", "1", 10, "A", "G", 1.0),   # refalt
        ("rs2", "1", 20, "G", "A", 1.0),   # altref
        ("rs3", "1", 30, "T", "G", 1.0),   # refalt_flip (A/C on the other strand)
        ("", "1", 70, "T", "", 1.0),       # no_oa_alt_flip (ALT A → T)
        ("", "1", 60, "A", "AT", 1.0),     # indel altref
        ("", "1", 99, "A", "G", 1.0),      # no target site
        ("", "1", 10, "C", "A", 1.0),      # position hit, alleles do not match
    ])
    m = match_score(s, _target())
    assert list(m.match_type) == ["refalt", "altref", "refalt_flip", "no_oa_alt_flip",
                                  "altref", "", ""]
    assert list(m.status) == ["matched"] * 5 + ["unmatched"] * 2
    assert list(m.effect_is_alt[:5]) == [False, True, False, True, True]
    assert list(m.target_row[:5]) == [0, 1, 2, 7, 6]
    assert m.reason[5] == "no_target_site" and m.reason[6] == "allele_mismatch"
    assert m.n_matched == 5 and m.overlap == pytest.approx(5 / 7)


def test_ambiguous_and_multiallelic_policies(tmp_path: Path) -> None:
    s = _score(tmp_path, [("", "1", 40, "A", "T", 1.0), ("", "1", 50, "A", "C", 1.0)])
    m = match_score(s, _target())
    assert list(m.status) == ["excluded", "excluded"]
    assert list(m.reason) == ["ambiguous", "multiallelic"]
    m2 = match_score(s, _target(), MatchPolicy(keep_ambiguous=True, keep_multiallelic=True))
    assert list(m2.status) == ["matched", "matched"]
    assert m2.target_row.tolist() == [3, 4]  # the C>A row of the split multi-allelic
    assert list(m2.match_type) == ["refalt", "altref"]


def test_ignore_strand_flips(tmp_path: Path) -> None:
    s = _score(tmp_path, [("", "1", 30, "T", "G", 1.0)])
    assert match_score(s, _target()).n_matched == 1
    m = match_score(s, _target(), MatchPolicy(ignore_strand_flips=True))
    assert m.n_matched == 0 and m.reason[0] == "allele_mismatch"


def test_duplicate_target_excludes_both(tmp_path: Path) -> None:
    s = _score(tmp_path, [("", "1", 10, "A", "G", 1.0), ("", "1", 10, "G", "A", 2.0)])
    m = match_score(s, _target())
    assert list(m.reason) == ["duplicate_target", "duplicate_target"]


def test_rsid_fallback_when_no_position(tmp_path: Path) -> None:
    p = tmp_path / "raw.txt"
    p.write_text("#genome_build=NR\nrsID\tchr_name\teffect_allele\tother_allele\teffect_weight\n"
                 "rs2\t1\tG\tA\t0.3\nrs404\t1\tG\tA\t0.3\n")
    m = match_score(read_scoring_file(p), _target())
    assert m.target_row.tolist() == [1, -1] and m.match_type[0] == "altref"


def test_build_mismatch_is_inconsistent(tmp_path: Path) -> None:
    s = _score(tmp_path, [("", "1", 10, "A", "G", 1.0)], build="GRCh37")
    with pytest.raises(InconsistentInputError) as ei:
        match_score(s, _target("GRCh38"))
    assert ei.value.exit_code == 5 and "GRCh37" in str(ei.value)
    assert match_score(s, _target(None)).n_matched == 1  # unknown target build: allowed


def test_overlap_guard_and_report(tmp_path: Path) -> None:
    s = _score(tmp_path, [("", "1", 10, "A", "G", 1.0), ("", "1", 98, "A", "G", 1.0),
                          ("", "1", 99, "A", "G", 1.0)])
    m = match_score(s, _target())
    rep = match_report([m])
    assert rep.loc[0, "n_matched"] == 1 and rep.loc[0, "n_unmatched"] == 2
    assert not bool(rep.loc[0, "passed"]) and "no_target_site=2" in rep.loc[0, "reasons"]
    with pytest.raises(InconsistentInputError, match=r"33\.3%"):
        check_overlap([m])
    check_overlap([match_score(s, _target(), MatchPolicy(min_overlap=0.3))])
    log = m.log_frame(_target())
    assert list(log["target_site"])[:2] == ["chr1:10:A:G", ""]
