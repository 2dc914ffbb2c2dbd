"""The single-patient entry point: risk_analysis → polygenic_score findings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from risk_testutil import make_panel, make_target, write_scorefile

from genoma.analyses.risk import risk_analysis
from genoma.analyses.risk.findings import RELATIVE_NOT_ABSOLUTE
from genoma.errors import InconsistentInputError
from genoma.io.pgs import read_scoring_file


def test_patient_findings_with_reference(tmp_path: Path) -> None:
    ref = make_panel()
    rng = np.random.default_rng(2)
    # the patient: a new P3-like genome
    p3 = ref.genotypes[:, ref.populations == "P3"]
    g = p3[np.arange(p3.shape[0]), rng.integers(0, p3.shape[1], p3.shape[0])]
    t = make_target(list(ref.chrom), list(ref.pos), list(ref.ref), list(ref.alt),
                    g[:, None].astype(float))
    rows = [{"chr_name": "1", "chr_position": int(p), "effect_allele": a, "other_allele": r,
             "effect_weight": float(w)} for p, r, a, w in zip(
        ref.pos[::2], ref.ref[::2], ref.alt[::2], rng.normal(0, 0.1, len(ref.pos[::2])),
        strict=True)]
    s = read_scoring_file(write_scorefile(tmp_path / "s.txt", rows, {
        "pgs_id": "PGS000XYZ", "trait_reported": "Test disease", "genome_build": "GRCh38",
        "license": "CC BY 4.0"}))
    run, findings = risk_analysis(t, [s], reference=ref)
    assert len(findings) == 1
    f = findings[0]
    assert f.kind == "polygenic_score" and f.subject == "S0"
    assert RELATIVE_NOT_ABSOLUTE in f.summary
    assert f.data["interpretation"] == "relative, not absolute"
    assert f.data["most_similar_population"] == "P3"
    assert 0 <= f.data["percentile"] <= 100 and np.isfinite(f.data["z_norm2"])
    dist = f.data["distribution"]
    assert sum(sum(c) for c in dist["counts_by_population"].values()) == 180
    assert len(dist["bin_edges"]) == 41
    assert "patient_pc1" in f.data["pca"] and len(f.data["pca"]["ref_pc1"]) == 180
    assert "CC BY 4.0" in f.evidence[0].description
    assert run.table.loc[0, "most_similar_population"] == "P3"
    # the reference sum of the same variants reproduces the target's sum for a reference
    # sample scored as a target
    assert run.table.loc[0, "n_variants_normalised"] == 200


def test_low_overlap_raises(tmp_path: Path) -> None:
    t = make_target(["chr1"], [100], ["A"], ["G"], np.ones((1, 1)))
    rows = [{"chr_name": "1", "chr_position": p, "effect_allele": "G", "other_allele": "A",
             "effect_weight": 1.0} for p in (100, 200, 300)]
    s = read_scoring_file(write_scorefile(tmp_path / "s.txt", rows, {"pgs_id": "X"}))
    with pytest.raises(InconsistentInputError):
        risk_analysis(t, [s])
