"""``genoma cohort simulate --min-maf/--max-variants``: common-variant cohorts (small sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from genoma.cli.cohort import app as cohort_app
from genoma.errors import UsageError
from genoma.io.vcz import open_cohort
from genoma.model.cohort import alt_dosage_block
from genoma.sim.cohort import (
    filter_sites,
    simulate_cohort,
    simulate_tree_sequence,
    site_alt_freq,
)

root = typer.Typer()
root.add_typer(cohort_app, name="cohort")


@root.callback()
def _root() -> None:
    """Test root."""


runner = CliRunner()
N, LENGTH, SEED = 120, 600_000, 4


def _store_freq(ds) -> tuple[np.ndarray, np.ndarray]:
    """Positions and first-ALT frequencies of a store, from its genotypes."""
    gt = ds["call_genotype"].values
    dose = alt_dosage_block(gt).astype(np.float64)
    return ds["variant_position"].values, dose.sum(axis=1) / (2 * gt.shape[1])


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("simfull")
    res = simulate_cohort(d / "all.vcz", N, LENGTH, seed=SEED, n_causal=3)
    return open_cohort(res.store)


def test_site_alt_freq_equals_decoded_genotypes() -> None:
    ts = simulate_tree_sequence(60, 400_000, seed=7)
    g = ts.genotype_matrix()
    assert ts.num_sites > 100
    assert any(len(s.mutations) > 1 for s in ts.sites())  # both counting paths are used
    np.testing.assert_array_equal(site_alt_freq(ts), (g == 1).mean(axis=1))


def test_min_maf_keeps_exactly_the_common_variants(full, tmp_path: Path) -> None:
    pos_all, f_all = _store_freq(full)
    maf_all = np.minimum(f_all, 1 - f_all)
    assert (maf_all < 0.05).mean() > 0.3  # the unfiltered cohort has many rare variants
    res = simulate_cohort(tmp_path / "common.vcz", N, LENGTH, seed=SEED, n_causal=3,
                          min_maf=0.05)
    ds = open_cohort(res.store)
    pos, f = _store_freq(ds)
    keep = maf_all >= 0.05
    assert res.n_variants == ds.sizes["variants"] == keep.sum()
    np.testing.assert_array_equal(pos, pos_all[keep])
    assert np.minimum(f, 1 - f).min() >= 0.05
    # same genotypes as the unfiltered cohort at the kept sites
    np.testing.assert_array_equal(ds["call_genotype"].values,
                                  full["call_genotype"].values[keep])
    sim = ds.attrs["genoma_simulation"]
    assert sim["min_maf"] == 0.05 and sim["simulated_sites"] == full.sizes["variants"]


def test_max_variants_takes_the_first_passing_sites(full, tmp_path: Path) -> None:
    pos_all, f_all = _store_freq(full)
    first = np.flatnonzero(np.minimum(f_all, 1 - f_all) >= 0.02)[:25]
    res = simulate_cohort(tmp_path / "first.vcz", N, LENGTH, seed=SEED, n_causal=3,
                          min_maf=0.02, max_variants=25)
    ds = open_cohort(res.store)
    np.testing.assert_array_equal(ds["variant_position"].values, pos_all[first])


def test_filter_sites_validation() -> None:
    ts = simulate_tree_sequence(10, 50_000, seed=2)
    assert filter_sites(ts) is ts  # nothing to remove
    assert filter_sites(ts, max_variants=3).num_sites == min(3, ts.num_sites)
    with pytest.raises(UsageError):
        filter_sites(ts, min_maf=0.6)
    with pytest.raises(UsageError):
        filter_sites(ts, max_variants=0)


def test_cli_simulate_min_maf(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    r = runner.invoke(root, ["cohort", "simulate", "-o", str(out), "-n", "60", "-L", "300000",
                             "--seed", "3", "--causal", "2", "--min-maf", "0.1",
                             "--max-variants", "40", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    ds = open_cohort(out / "cohort.vcz")
    assert summary["variants"] == ds.sizes["variants"] == 40
    assert summary["min_maf"] == 0.1 and summary["max_variants"] == 40
    _, f = _store_freq(ds)
    assert np.minimum(f, 1 - f).min() >= 0.1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["summary"]["variants"] == 40
    bad = runner.invoke(root, ["cohort", "simulate", "-o", str(tmp_path / "bad"), "-n", "60",
                               "--min-maf", "0.7"])
    assert bad.exit_code == 2
    assert not (tmp_path / "bad").exists()


def test_cli_simulate_nothing_left_is_a_clear_error(tmp_path: Path) -> None:
    """A filter that keeps no site: exit 2 naming the fix, and no output (was a traceback
    from the Zarr encoder)."""
    out = tmp_path / "none"
    r = runner.invoke(root, ["cohort", "simulate", "-o", str(out), "-n", "20", "-L", "1000",
                             "--seed", "1", "--min-maf", "0.49", "--max-variants", "5"])
    assert r.exit_code == 2, r.output
    assert "no variant left" in r.output and "--min-maf" in r.output
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no partial store beside it either
