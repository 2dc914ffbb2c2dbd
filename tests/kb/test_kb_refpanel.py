"""1000 Genomes reference panel embedded in peddy."""

from __future__ import annotations

import numpy as np
import pytest

from genoma.errors import InconsistentInputError
from genoma.kb import refpanel
from genoma.kb.base import get_source

from conftest import require_shared


def test_source_verifies_and_loads_both_builds():
    src = get_source("1kg-peddy")
    assert src.builds == ("GRCh37", "GRCh38")
    src.verify()
    p38 = refpanel.load("GRCh38")
    p37 = refpanel.load("GRCh37")
    for p in (p37, p38):
        assert p.genotypes.shape == (p.n_sites, 2504) == (len(p.chrom), len(p.samples))
        assert p.genotypes.dtype == np.int8
        assert set(np.unique(p.genotypes)) <= {-1, 0, 1, 2}
        assert not p.genotypes.flags.writeable
        assert p.chrom[0].startswith("chr")
        assert np.all(np.isin(p.ref, ["A", "C", "G", "T"]))
    assert p37.n_sites == p38.n_sites > 20_000
    assert (p37.genotypes >= 0).all()  # peddy's matrix has no missing calls
    # 1000 Genomes phase 3: 661 AFR, 347 AMR, 504 EAS, 503 EUR, 489 SAS
    sp, n = np.unique(p38.superpopulations, return_counts=True)
    assert dict(zip(sp.tolist(), n.tolist(), strict=True)) == {
        "AFR": 661,
        "AMR": 347,
        "EAS": 504,
        "EUR": 503,
        "SAS": 489,
    }
    assert p38.populations is None
    assert p38.site_ids()[0].count(":") == 3


def test_grch38_allele_swaps_are_complemented():
    p37, p38 = refpanel.load("GRCh37"), refpanel.load("GRCh38")
    swapped = (p37.ref == p38.alt) & (p37.alt == p38.ref)
    same = (p37.ref == p38.ref) & (p37.alt == p38.alt)
    assert swapped.any()
    assert np.array_equal(p38.genotypes[swapped], 2 - p37.genotypes[swapped])
    assert np.array_equal(p38.genotypes[same], p37.genotypes[same])
    assert (p38.genotypes[~(same | swapped)] == -1).all()


def test_unknown_build_is_inconsistent():
    with pytest.raises(InconsistentInputError):
        refpanel.load("hg17")


@pytest.mark.validation
def test_superpopulations_match_1000g_sample_sheet():
    import pandas as pd

    labels = pd.read_csv(require_shared("prs", "peddy_1kg", "1kg_2504_labels.tsv"), sep="\t")
    p = refpanel.load("GRCh37")
    assert len(labels) == p.n_samples
    assert (labels["SuperPop_psam"].to_numpy() == p.superpopulations).all()
    shared_sites = require_shared("prs", "peddy_1kg", "GRCH38.sites").read_text().split()
    assert [s.replace("chr", "") for s in refpanel.load("GRCh38").site_ids()[:100]] == shared_sites[
        :100
    ]
