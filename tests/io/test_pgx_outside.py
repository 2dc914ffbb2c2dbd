"""Outside-call TSV reader (genoma.io.pgx_outside)."""

from __future__ import annotations

import pytest

from genoma.errors import InputMissingError, MalformedInputError
from genoma.io.pgx_outside import read_outside_calls
from genoma.kb import get_source


@pytest.fixture(scope="module")
def knowledge():
    return get_source("pgx").load()


def _write(tmp_path, text, name="outside.tsv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_pharmcat_format(tmp_path, knowledge):
    p = _write(tmp_path, (
        "# outside calls from a CNV-aware caller\n"
        "CYP2D6\t*1/*4x2\n"
        "\n"
        "HLA-B\t*57:01/*58:01\n"
        "CYP2C19\t\tpoor metabolizer\n"
        "CYP2C9\t\t\t1.5\n"
        "G6PD\tA\n"
    ))
    calls = read_outside_calls(p, knowledge)
    assert [c.gene for c in calls] == ["CYP2D6", "HLA-B", "CYP2C19", "CYP2C9", "G6PD"]
    d6 = calls[0]
    assert d6.diplotype == "*1/*4x2" and d6.alleles == ("*1", "*4x2")
    assert d6.sample is None and d6.line == 2 and d6.path == str(p)
    assert calls[1].alleles == ("*57:01", "*58:01")
    assert calls[2].phenotype == "Poor Metabolizer"  # canonical spelling
    assert calls[2].diplotype is None
    assert calls[3].activity_score == 1.5
    assert calls[4].alleles == ("A", None)


def test_sample_column_header(tmp_path, knowledge):
    p = _write(tmp_path, "#sample\tgene\tdiplotype\tphenotype\tactivity_score\n"
                         "S1\tCYP2D6\t*1/*2\n"
                         "S2\tCYP2D6\t*4/*4\n")
    calls = read_outside_calls(p, knowledge)
    assert [(c.sample, c.diplotype) for c in calls] == [("S1", "*1/*2"), ("S2", "*4/*4")]


def test_plain_header_skipped(tmp_path, knowledge):
    p = _write(tmp_path, "gene\tdiplotype\nCYP2D6\t*1/*2\n")
    (c,) = read_outside_calls(p, knowledge)
    assert c.gene == "CYP2D6" and c.line == 2


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("CYP2D6\t*1/*2\nCYP9Z9\t*1/*1\n", 2, "unknown gene 'CYP9Z9'"),
        ("# c\nCYP2D6\t*1/*999\n", 2, "unknown allele '*999'"),
        ("CYP2D6\t*1/*999x2\n", 1, "unknown allele '*999x2'"),
        ("HLA-B\tB57\n", 1, "unknown allele 'B57'"),
        ("CYP2C19\t\tFast Metabolizer\n", 1, "unknown phenotype"),
        ("CYP2C9\t\t\tlots\n", 1, "activity score"),
        ("CYP2D6\n", 1, "give a diplotype"),
        ("CYP2D6\t*1/*2/*3\n", 1, "malformed diplotype"),
        ("CYP2D6\t*1/*2\tNormal Metabolizer\t2\textra\n", 1, "at most 4"),
        ("CYP2D6\t*1/*2\nCYP2D6\t*1/*4\n", 2, "given twice"),
    ],
)
def test_malformed_lines(tmp_path, knowledge, text, line, words):
    p = _write(tmp_path, text)
    with pytest.raises(MalformedInputError) as ei:
        read_outside_calls(p, knowledge)
    err = ei.value
    assert err.exit_code == 4
    assert err.line == line and err.path == str(p)
    assert words in str(err)
    assert f"{p}:{line}:" in str(err)


def test_missing_file(tmp_path, knowledge):
    with pytest.raises(InputMissingError):
        read_outside_calls(tmp_path / "nope.tsv", knowledge)
