"""Score tables through tabix: column detection, per-allele lookup, CLI spec parsing."""

from __future__ import annotations

import pysam
import pytest

from genoma.errors import KnowledgeError, UsageError
from genoma.kb.scores import ScoreTable, parse_score_spec

ROWS = [
    "#chr\tpos\tref\talt\taaref\taaalt\tREVEL\ttranscript",
    "1\t100\tC\tT\tR\tW\t0.91\tT1",
    "1\t100\tC\tT\tR\tW\t0.95\tT2",
    "1\t100\tC\tG\tR\tG\t0.10\tT1",
    "1\t250\tA\tG\tK\tE\t0.5\tT1",
]


def table(tmp_path, rows=ROWS):
    plain = tmp_path / "revel.tsv"
    plain.write_text("\n".join(rows) + "\n")
    gz = tmp_path / "revel.tsv.gz"
    pysam.tabix_compress(str(plain), str(gz), force=True)
    pysam.tabix_index(str(gz), seq_col=0, start_col=1, end_col=1, meta_char="#", force=True)
    return gz


def test_lookup_by_header_name(tmp_path):
    t = ScoreTable(table(tmp_path), "REVEL")
    assert t.name == "REVEL"
    assert t.lookup("chr1", 100, "C", "T") == pytest.approx(0.95)  # highest over transcripts
    assert t.lookup("1", 100, "C", "G") == pytest.approx(0.10)
    assert t.lookup("chr1", 100, "C", "A") is None
    assert t.lookup("chr2", 100, "C", "T") is None
    low = ScoreTable(table(tmp_path), "7", "REVEL", higher_is_worse=False)
    assert low.lookup("chr1", 100, "C", "T") == pytest.approx(0.91)


def test_errors(tmp_path):
    with pytest.raises(KnowledgeError):
        ScoreTable(table(tmp_path), "CADD")
    plain = tmp_path / "x.tsv.gz"
    plain.write_bytes(b"")
    with pytest.raises(KnowledgeError):  # no index
        ScoreTable(plain, "REVEL")


def test_parse_spec(tmp_path):
    gz = table(tmp_path)
    s = parse_score_spec(f"{gz}:REVEL")
    assert s.path == gz and s.column == "REVEL" and s.name == "REVEL"
    s = parse_score_spec(f"{gz}:7:REVEL")
    assert s.path == gz and s.column == "7" and s.name == "REVEL"
    with pytest.raises(UsageError):
        parse_score_spec(str(gz))


def test_install_cadd_from_file_mirror(tmp_path, monkeypatch):
    import urllib.parse

    from genoma.kb import base
    from genoma.kb import install as kbinstall
    from genoma.kb.base import get_source

    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "home"))
    base.reset_cache()
    rel = get_source("scores").releases()[0]
    dest = tmp_path / "mirror" / urllib.parse.urlsplit(rel.url).path.lstrip("/")
    dest.parent.mkdir(parents=True)
    rows = ["## CADD GRCh38-v1.7 (c) University of Washington", "#Chrom\tPos\tRef\tAlt\tRawScore\tPHRED",
            "21\t5000\tA\tG\t2.5\t24.1", "21\t5000\tA\tT\t4.0\t29.0"]
    gz = table(tmp_path, rows)
    dest.write_bytes(gz.read_bytes())
    dest.with_name(dest.name + ".tbi").write_bytes(gz.with_name(gz.name + ".tbi").read_bytes())
    rec = kbinstall.install("scores", mirror=(tmp_path / "mirror").as_uri())
    assert rec.version == "1.7"
    t = get_source("scores").load()
    assert t.name == "CADD" and t.lookup("chr21", 5000, "A", "T") == pytest.approx(29.0)
