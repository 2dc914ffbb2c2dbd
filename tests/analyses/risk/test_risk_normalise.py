"""Ancestry adjustment: pgscatalog-calc equality (peer) and properties of Z_norm1/Z_norm2."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from genoma.analyses.risk.normalise import adjust_scores

from conftest import REPO, require_shared

PEER = os.environ.get("PGSCALC_BIN") or shutil.which("pgscatalog-ancestry-adjust")
if PEER is not None and not os.access(PEER, os.X_OK):
    PEER = None


def _synthetic(seed: int = 0, n: int = 1500):
    rng = np.random.default_rng(seed)
    pops = rng.choice(["A", "B", "C"], n)
    centre = {"A": (3.0, 0.0), "B": (-2.0, 2.0), "C": (0.0, -3.0)}
    pcs = np.array([centre[p] for p in pops]) + rng.normal(0, 0.5, (n, 2))
    pcs = np.c_[pcs, rng.normal(0, 0.3, (n, 3))]
    # the score's mean and SD both depend on ancestry
    mu = 1.0 + 0.8 * pcs[:, 0] - 0.4 * pcs[:, 1]
    sd = np.exp(0.2 + 0.25 * pcs[:, 0])
    score = mu + sd * rng.normal(size=n)
    return pcs, score, pops


def test_z_norm_properties_on_synthetic_data() -> None:
    pcs, y, pops = _synthetic()
    ref, tgt = slice(0, 1000), slice(1000, None)
    a = adjust_scores(pcs[ref], y[ref], pops[ref], pcs[tgt], y[tgt], pops[tgt])
    # Z_norm1: in the reference, mean 0, SD 1, uncorrelated with the PCs
    assert abs(a.ref_z_norm1.mean()) < 1e-10 and a.ref_z_norm1.std() == pytest.approx(1.0)
    for k in range(4):
        assert abs(np.corrcoef(a.ref_z_norm1, pcs[ref][:, k])[0, 1]) < 1e-8
    # Z_norm2 equalises the spread across populations (Z_norm1 does not)
    sd1 = [a.z_norm1[pops[tgt] == p].std() for p in "ABC"]
    sd2 = [a.z_norm2[pops[tgt] == p].std() for p in "ABC"]
    assert max(sd1) / min(sd1) > 2.0
    assert max(sd2) / min(sd2) < 1.25
    assert all(0.8 < s < 1.2 for s in sd2)
    # empirical percentile within the most similar population
    assert np.nanmin(a.percentile) >= 0 and np.nanmax(a.percentile) <= 100
    assert a.model["z_norm2"]["success"]


def test_zero_variance_score_gives_nan() -> None:
    pcs, y, pops = _synthetic(n=200)
    a = adjust_scores(pcs, np.ones(200), pops, pcs[:5], y[:5], pops[:5])
    assert np.isnan(a.z_norm1).all() and np.isnan(a.z_norm2).all()


@pytest.mark.validation
@pytest.mark.skipif(PEER is None, reason="pgscatalog-calc (peer) not installed: "
                    "python3.11 -m venv /tmp/pgscalc && /tmp/pgscalc/bin/pip install "
                    "pgscatalog-calc==0.3.1; export PGSCALC_BIN=/tmp/pgscalc/bin/"
                    "pgscatalog-ancestry-adjust")
def test_equals_pgscatalog_calc(tmp_path: Path) -> None:
    require_shared("prs", "pygscatalog", "ref.pcs")
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import risk_ancestry_adjust_peer as peer
    finally:
        sys.path.pop(0)
    peer.run_peer(tmp_path)
    diff = peer.compare(tmp_path)
    assert diff["n_target"] > 900
    for key in ("z_norm1_maxabs", "z_norm2_maxabs", "ref_z_norm1_maxabs",
                "ref_z_norm2_maxabs", "z_mostsimilar_maxabs"):
        assert diff[key] < 1e-6, (key, diff)
    assert diff["percentile_maxabs"] < 1e-6
