"""Infer a target's genome build from the embedded 1000 Genomes sites.

peddy's 23,770 sites are listed with GRCh37 and GRCh38 coordinates (same order, same
alleles up to REF/ALT swaps). A target whose sites hit one list by position *and*
alleles much more often than the other is on that build. Used only when the target's
header cannot tell (no contig lengths, PLINK filesets).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genoma.errors import GenomaError
from genoma.io.pgs import TargetGenotypes

__all__ = ["infer_target_build"]


def _hits(chrom: np.ndarray, pos: np.ndarray, ref: np.ndarray, alt: np.ndarray,
          target: TargetGenotypes) -> int:
    r = pd.DataFrame({"chrom": chrom, "pos": pos, "a": ref, "b": alt})
    t = pd.DataFrame({"chrom": target.chrom, "pos": target.pos, "tr": target.ref,
                      "ta": target.alt})
    m = r.merge(t, on=["chrom", "pos"])
    ok = ((m["a"] == m["tr"]) & (m["b"] == m["ta"])) | ((m["a"] == m["ta"]) & (m["b"] == m["tr"]))
    return int(ok.sum())


def infer_target_build(
    target: TargetGenotypes, min_hits: int = 10, ratio: float = 3.0
) -> str | None:
    """``GRCh37`` / ``GRCh38`` when one build's sites match clearly more, else ``None``.

    Parameters
    ----------
    target
        Target sites.
    min_hits
        Minimum matching sites for a call.
    ratio
        The winning build must have at least ``ratio`` times the other's hits.
    """
    try:
        from genoma.kb import refpanel

        p37, p38 = refpanel.load("GRCh37"), refpanel.load("GRCh38")
    except GenomaError:
        return None
    h37 = _hits(p37.chrom, p37.pos, p37.ref, p37.alt, target)
    h38 = _hits(p38.chrom, p38.pos, p38.ref, p38.alt, target)
    if h37 >= min_hits and h37 >= ratio * max(h38, 1):
        return "GRCh37"
    if h38 >= min_hits and h38 >= ratio * max(h37, 1):
        return "GRCh38"
    return None
