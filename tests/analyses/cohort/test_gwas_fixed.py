"""The fixed costs of ``genoma cohort gwas`` around the scan: the compiled TSV writer, the
variant table read straight from the store's chunk files, λGC without scipy.stats.

Each fast path is checked against the slow one it replaces (pandas ``to_csv``, Python's
``%`` formatting, ``ds[name].values``, ``scipy.stats.chi2``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cohort_data import write_vcf

from genoma.analyses.cohort import gwas as G
from genoma.analyses.cohort.plots import genomic_inflation
from genoma.io.vcz import import_vcfs, open_cohort, read_store_variables


def _pandas(table: pd.DataFrame, ff: str = ".10g", na_rep: str = "NA") -> str:
    return table.to_csv(sep="\t", index=False, na_rep=na_rep, float_format="%" + ff,
                        lineterminator="\n")


def _g(values: np.ndarray, prec: int) -> tuple[list[str | None], np.ndarray]:
    """The compiled %g writer's text per value (None where it defers to Python)."""
    write_g = G._text_kernels()[0]
    x = np.ascontiguousarray(values, dtype=np.float64)
    n = len(x)
    buf = np.empty(n * 24 + 1, dtype=np.uint8)
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    ok = np.ones(n, dtype=np.bool_)
    size = write_g(x, prec, G._POW10, buf, starts, ends, ok)
    raw = buf[:size].tobytes()
    return [raw[s:e].decode() if k else None
            for s, e, k in zip(starts.tolist(), ends.tolist(), ok.tolist(), strict=True)], ok


def _hard_floats(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = n // 6
    return np.concatenate([
        rng.normal(size=k) * 10.0 ** rng.integers(-300, 300, size=k),  # every exponent
        np.frombuffer(rng.bytes(8 * k), dtype=np.float64),  # any bit pattern (NaN, subnormal)
        rng.integers(0, 40001, k) / 40000.0,  # allele frequencies
        rng.random(k) ** 40,  # p-values
        (10.0 ** rng.integers(-12, 16, k)) * rng.choice(  # next to powers of ten and ties
            [1.0, -1.0, 0.5, 9.99999999995, 9.999999999949999, 1.00000000005, 0.12345678905], k),
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 2.2250738585072014e-308,
                  1.7976931348623157e308, 1e-5, 1e-4, 0.0001, 1e9, 1e10, 9999999999.5,
                  123456789.05, 2.5, 0.5, -1e-300, 1e290, 1e-290, 9.9999999999e-5]),
    ])


@pytest.mark.parametrize("prec", [1, 3, 6, 10])
def test_compiled_g_is_python_percent_g(prec: int) -> None:
    values = _hard_floats(60_000, seed=prec)
    text, ok = _g(values, prec)
    fmt = f"%.{prec}g"
    expected = [fmt % x for x in values.tolist()]
    wrong = [(x, t, e) for x, t, e in zip(values.tolist(), text, expected, strict=True)
             if t is not None and t != e]
    assert wrong == []
    assert ok.mean() > 0.8  # NaN / huge / tiny bit patterns and near-ties defer to Python
    assert not ok[np.isnan(values)].any()


def test_compiled_integers_are_str() -> None:
    write_int = G._text_kernels()[1]
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.integers(-(2**63), 2**63 - 1, 5000, dtype=np.int64),
                        np.array([0, -1, 1, 9, 10, -10, 2**63 - 1, -(2**63)], dtype=np.int64)])
    buf = np.empty(len(v) * 20, dtype=np.uint8)
    starts = np.empty(len(v), dtype=np.int64)
    ends = np.empty(len(v), dtype=np.int64)
    size = write_int(v, buf, starts, ends)
    raw = buf[:size].tobytes().decode()
    assert [raw[s:e] for s, e in zip(starts, ends, strict=True)] == [str(x) for x in v.tolist()]


def _tricky(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = rng.permutation(_hard_floats(6 * n, seed))[:n]
    return pd.DataFrame({
        "chrom": np.array([f"chr{1 + i % 22}" for i in range(n)], dtype=object),
        "pos": rng.integers(1, 250_000_000, size=n),
        "id": np.array(["rs1", ".", "é/ü", "x"] * (n // 4) + ["."] * (n % 4), dtype=object),
        "small": rng.integers(-128, 127, size=n).astype(np.int8),
        "big": rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64),
        "f": f,
        "f32": rng.normal(size=n).astype(np.float32),
        "p": rng.random(n) ** 20,
        "firth": rng.random(n) < 0.3,
        "error": np.where(np.isnan(f), "CONST_ALLELE", "").astype(object),
    })


@pytest.mark.parametrize("ff", [".10g", ".3g", ".12g", ".4f", ".6e"])
@pytest.mark.parametrize("rows", [7, 5000])
def test_tsv_same_bytes_as_pandas(ff: str, rows: int) -> None:
    table = _tricky(3000)
    assert "".join(G.tsv_chunks(table, float_format=ff, rows=rows)) == _pandas(table, ff)


def test_tsv_missing_values_objects_and_quoting() -> None:
    table = pd.DataFrame({"a": np.array(["x", None, np.nan, 3], dtype=object),
                          "b": pd.array([1, None, 3, 4], dtype="Int64"),
                          "c": np.array([1.5, np.nan, -0.0, 1e-320]),
                          "d": np.array(["x\ry", "a,b", "it's", "ok"], dtype=object)})
    assert "".join(G.tsv_chunks(table)) == _pandas(table)
    assert "".join(G.tsv_chunks(table, na_rep="")) == _pandas(table, na_rep="")
    quoted = pd.DataFrame({"id": np.array(["rs1", "a\tb", 'say "hi"', "x"], dtype=object),
                           "v": [1.0, 2.0, np.nan, 4.0]})
    assert "".join(G.tsv_chunks(quoted, rows=2)) == _pandas(quoted)
    assert "".join(G.tsv_chunks(quoted, na_rep="N\tA")) == _pandas(quoted, na_rep="N\tA")
    empty = _tricky(8).iloc[:0]
    assert "".join(G.tsv_chunks(empty)) == _pandas(empty)


def test_genomic_inflation_equals_scipy_stats() -> None:
    from scipy import stats

    rng = np.random.default_rng(3)
    for n in (1, 2, 999, 1000):
        p = rng.random(n) ** 1.5
        p[: n // 10] = np.nan  # ignored, as are p = 0
        if n > 5:
            p[5] = 0.0
        kept = p[np.isfinite(p) & (p > 0)]
        expected = np.median(stats.chi2.isf(kept, 1)) / stats.chi2.ppf(0.5, 1)
        assert genomic_inflation(p) == expected  # same bits
    assert np.isnan(genomic_inflation(np.array([np.nan, 0.0])))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 variants on chr1 and chr2 (multi-allelic and missing IDs among them), 40
    samples, chunks of 64 variants: the chr1 chunks of ``variant_contig`` are all 0 and
    never written (fill value)."""
    rng = np.random.default_rng(5)
    d = tmp_path_factory.mktemp("fixed")
    n, v = 40, 300
    chrom = ["chr1"] * 200 + ["chr2"] * 100
    pos = np.concatenate([np.arange(1, 201), np.arange(1, 101)]) * 100
    ref = [["A", "C", "G", "TT"][i % 4] for i in range(v)]
    alt = [["G", "T", "A,C", "T"][i % 4] for i in range(v)]
    gt = (rng.random((v, n, 2)) < 0.3).astype(np.int8)
    gt[rng.random((v, n, 2)) < 0.02] = -1
    vcf = write_vcf(d / "c.vcf.gz", [f"S{i}" for i in range(n)], chrom, pos, ref, alt, gt)
    out = d / "c.vcz"
    import_vcfs([vcf], out, variants_chunk_size=64)
    return out


def _expected_table(ds) -> pd.DataFrame:
    """The variant table the old way: every variable computed through Dask."""
    from genoma.model.variant import canonical_chrom

    contigs = np.array([canonical_chrom(str(c)) for c in ds["contig_id"].values], dtype=object)
    alleles = np.asarray(ds["variant_allele"].values).astype(str)
    vid = np.asarray(ds["variant_id"].values).astype(str)
    return pd.DataFrame({
        "chrom": contigs[np.asarray(ds["variant_contig"].values)],
        "pos": np.asarray(ds["variant_position"].values).astype(np.int64),
        "id": np.where(np.isin(vid, ["", "."]), ".", vid).astype(object),
        "ref": alleles[:, 0].astype(object),
        "alt": np.where(alleles[:, 1] == "", ".", alleles[:, 1]).astype(object)})


def test_store_variables_read_directly(store: Path) -> None:
    ds = open_cohort(store)
    assert not (store / "variant_contig" / "0").exists()  # all-0 chunk: the fill value
    names = ["variant_contig", "variant_position", "variant_allele", "variant_id", "sample_id"]
    got = read_store_variables(ds, names)
    assert set(got) == set(names)
    for name in names:
        want = np.asarray(ds[name].values)
        assert got[name].shape == want.shape
        assert got[name].tolist() == want.tolist(), name
    assert got["variant_allele"].dtype == object
    pd.testing.assert_frame_equal(G.variant_table(ds), _expected_table(ds))


def test_subsets_and_rechunked_stores_are_computed(store: Path) -> None:
    ds = open_cohort(store)
    perm = np.random.default_rng(0).permutation(ds.sizes["variants"])
    for other in (ds.isel(variants=perm),  # same shape and encoding, other order
                  ds.isel(variants=slice(10, 150)),
                  open_cohort(store, variants_chunk=50)):
        assert read_store_variables(other, ["variant_position", "variant_allele"]) == {}
        pd.testing.assert_frame_equal(G.variant_table(other), _expected_table(other))
    computed = ds.assign(variant_position=ds["variant_position"] + 1)
    assert "variant_position" not in read_store_variables(computed, ["variant_position"])
    assert read_store_variables(ds.drop_encoding(), ["variant_position"]) == {}


def test_result_table_columns(store: Path) -> None:
    ds = open_cohort(store)
    v = ds.sizes["variants"]
    res = np.random.default_rng(2).random((v, len(G._FIELDS)))
    res[:, 0] = 40
    res[:, 6] = np.arange(v) % 2
    res[:, 7] = np.arange(v) % 5
    table = G._table(ds, res)
    assert list(table.columns) == ["chrom", "pos", "id", "ref", "alt", *G._FIELDS]
    assert table["n"].dtype == np.int64 and table["firth"].dtype == bool
    assert table["error"].tolist() == [G.ERRORS[i % 5] for i in range(v)]
    assert np.array_equal(table["p"].to_numpy(), res[:, 5])
    text = "".join(G.tsv_chunks(table, rows=100))
    assert text == _pandas(table)



def test_gc_paused_restores_the_collector() -> None:
    import gc

    from genoma.cli.cohort import _gc_paused

    assert gc.isenabled()
    with _gc_paused() as resume:
        assert not gc.isenabled()
        resume()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), _gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with _gc_paused() as resume:
            resume()
            assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()
