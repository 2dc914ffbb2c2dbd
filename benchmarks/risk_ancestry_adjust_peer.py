"""Z_norm1 / Z_norm2 / empirical percentile: genoma vs pgscatalog-calc on its test data.

Usage::

    python benchmarks/risk_ancestry_adjust_peer.py [PEER_OUT_DIR]

``PEER_OUT_DIR`` holds ``hgdp_pgs.txt.gz`` and ``hgdp_popsimilarity.txt.gz`` written by
``pgscatalog-ancestry-adjust -d hgdp -r reference --ref_pcs ref.pcs --target_pcs
target.pcs --psam ref.psam -x ref.king.cutoff.id -s aggregated_scores.txt`` (PyPI
``pgscatalog-calc``, installed in its own virtualenv because it pins numpy 1.26). When
omitted, the peer is run from ``$PGSCALC_BIN`` (default: ``pgscatalog-ancestry-adjust``
on PATH). Prints the largest absolute differences.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from genoma.analyses.risk.normalise import adjust_scores
from genoma.io.pgs import read_pcs

DATA = Path(os.environ.get("GENOMA_SHARED", Path(__file__).resolve().parents[2] / "shared")) \
    / "data" / "prs" / "pygscatalog"


def run_peer(out: Path) -> None:
    exe = os.environ.get("PGSCALC_BIN", "pgscatalog-ancestry-adjust")
    subprocess.run([exe, "-d", "hgdp", "-r", "reference", "--ref_pcs", str(DATA / "ref.pcs"),
                    "--target_pcs", str(DATA / "target.pcs"), "--psam", str(DATA / "ref.psam"),
                    "-x", str(DATA / "ref.king.cutoff.id"), "-s",
                    str(DATA / "aggregated_scores.txt"), "--outdir", str(out)], check=True,
                   capture_output=True)


def compare(peer_dir: Path) -> dict[str, float]:
    peer = pd.read_csv(peer_dir / "hgdp_pgs.txt.gz", sep="\t", dtype={"IID": str})
    sim = pd.read_csv(peer_dir / "hgdp_popsimilarity.txt.gz", sep="\t", dtype={"IID": str})
    ref_ids, ref_pcs = read_pcs(DATA / "ref.pcs")
    tgt_ids, tgt_pcs = read_pcs(DATA / "target.pcs")
    psam = pd.read_csv(DATA / "ref.psam", sep="\t").rename(columns={"#IID": "IID"})
    pop = psam.set_index("IID").loc[ref_ids, "SuperPop"].to_numpy()
    related = set(pd.read_csv(DATA / "ref.king.cutoff.id", sep="\t")["#IID"].astype(str))
    train = np.array([i not in related for i in ref_ids])
    agg = pd.read_csv(DATA / "aggregated_scores.txt", sep="\t", dtype={"IID": str})
    rs = agg[agg.sampleset == "reference"].set_index("IID").loc[ref_ids, "SUM"].to_numpy()
    ts_tab = agg[agg.sampleset == "hgdp"].set_index("IID")
    keep = [i for i in tgt_ids if i in ts_tab.index]
    tsel = np.array([i in ts_tab.index for i in tgt_ids])
    ts = ts_tab.loc[keep, "SUM"].to_numpy()
    tpop = sim[sim.sampleset == "hgdp"].set_index("IID").loc[keep, "MostSimilarPop"].to_numpy()
    res = adjust_scores(ref_pcs, rs, pop, tgt_pcs[tsel], ts, tpop, ref_train=train)
    p = peer[peer.sampleset == "hgdp"].set_index("IID").loc[keep]
    pr = peer[peer.sampleset == "reference"].set_index("IID").loc[ref_ids]
    return {
        "n_target": len(keep),
        "z_norm1_maxabs": float(np.nanmax(np.abs(res.z_norm1 - p["Z_norm1"].to_numpy()))),
        "z_norm2_maxabs": float(np.nanmax(np.abs(res.z_norm2 - p["Z_norm2"].to_numpy()))),
        "percentile_maxabs": float(np.nanmax(np.abs(
            res.percentile - p["percentile_MostSimilarPop"].to_numpy()))),
        "z_mostsimilar_maxabs": float(np.nanmax(np.abs(
            res.z_empirical - p["Z_MostSimilarPop"].to_numpy()))),
        "ref_z_norm1_maxabs": float(np.nanmax(np.abs(res.ref_z_norm1 - pr["Z_norm1"]))),
        "ref_z_norm2_maxabs": float(np.nanmax(np.abs(res.ref_z_norm2 - pr["Z_norm2"]))),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(compare(Path(sys.argv[1])))
    else:
        with tempfile.TemporaryDirectory() as d:
            run_peer(Path(d))
            print(compare(Path(d)))
