"""The fast TSV writer of ``genoma cohort gwas`` (``tsv_chunks``) against pandas ``to_csv``."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from genoma.analyses.cohort.gwas import tsv_chunks


def _pandas(table: pd.DataFrame) -> str:
    return table.to_csv(sep="\t", index=False, na_rep="NA", float_format="%.10g",
                        lineterminator="\n")


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=n) * 10.0 ** rng.integers(-12, 12, size=n)
    beta[rng.random(n) < 0.1] = np.nan
    p = rng.random(n) ** 20
    p[:3] = [np.inf, -np.inf, -0.0][: min(3, n)]
    err = np.where(np.isnan(beta), "CONST_ALLELE", "")
    return pd.DataFrame({
        "chrom": np.array([f"chr{1 + i % 22}" for i in range(n)], dtype=object),
        "pos": rng.integers(1, 250_000_000, size=n),
        "id": ".", "ref": "A", "alt": np.array(["T", "GC"] * (n // 2) + ["T"] * (n % 2),
                                             dtype=object),
        "n": rng.integers(0, 20_000, size=n), "beta": beta, "p": p,
        "firth": rng.random(n) < 0.3, "error": err.astype(object),
    })


@pytest.mark.parametrize("rows", [7, 1000])
def test_same_bytes_as_pandas(rows: int) -> None:
    table = _table(2500)
    assert "".join(tsv_chunks(table, rows=rows)) == _pandas(table)


def test_missing_strings_and_non_string_objects() -> None:
    table = pd.DataFrame({"a": np.array(["x", None, np.nan, 3], dtype=object),
                          "b": pd.array([1, None, 3, 4], dtype="Int64"),
                          "c": np.array([1.5, np.nan, 2.0, 1e-300])})
    assert "".join(tsv_chunks(table)) == _pandas(table)


def test_values_needing_quotes_fall_back_to_pandas() -> None:
    table = pd.DataFrame({"id": np.array(['rs1', 'a\tb', 'say "hi"', 'x'], dtype=object),
                          "v": [1.0, 2.0, np.nan, 4.0]})
    text = "".join(tsv_chunks(table, rows=2))
    assert text == _pandas(table)
    back = pd.read_csv(io.StringIO(text), sep="\t")
    assert list(back["id"]) == list(table["id"])


def test_empty_table_is_the_header() -> None:
    table = _table(4).iloc[:0]
    assert "".join(tsv_chunks(table)) == _pandas(table)
