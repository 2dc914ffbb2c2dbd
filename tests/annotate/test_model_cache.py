"""The on-disk cache of transcript models gives back exactly what the parser gives."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from genoma.annotate.model_cache import load_transcripts, pack, unpack
from genoma.annotate.transcripts import Transcript, read_transcripts
from genoma.errors import InputMissingError, MalformedInputError

from conftest import require_shared

GFF = """##gff-version 3
chr1\t.\tgene\t101\t900\t.\t+\t.\tID=gene:G1;Name=ONE;biotype=protein_coding
chr1\t.\tmRNA\t101\t900\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;biotype=protein_coding;version=3;tag=basic,Ensembl_canonical
chr1\t.\texon\t101\t200\t.\t+\t.\tParent=transcript:T1
chr1\t.\texon\t301\t400\t.\t+\t.\tParent=transcript:T1
chr1\t.\texon\t801\t900\t.\t+\t.\tParent=transcript:T1
chr1\t.\tCDS\t151\t200\t.\t+\t0\tID=CDS:P1;Parent=transcript:T1;protein_id=P1;version=2
chr1\t.\tCDS\t301\t400\t.\t+\t1\tID=CDS:P1;Parent=transcript:T1;protein_id=P1;version=2
chr1\t.\tCDS\t801\t850\t.\t+\t0\tID=CDS:P1;Parent=transcript:T1;protein_id=P1;version=2
chr2\t.\tncRNA_gene\t1001\t1500\t.\t-\t.\tID=gene:G2;biotype=lincRNA
chr2\t.\tlnc_RNA\t1001\t1500\t.\t-\t.\tID=transcript:T2;Parent=gene:G2;biotype=lincRNA
chr2\t.\texon\t1001\t1100\t.\t-\t.\tParent=transcript:T2
chr2\t.\texon\t1401\t1500\t.\t-\t.\tParent=transcript:T2
"""


def _same(a: list[Transcript], b: list[Transcript]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for f in dataclasses.fields(Transcript):
            u, v = getattr(x, f.name), getattr(y, f.name)
            if isinstance(u, np.ndarray):
                assert isinstance(v, np.ndarray) and u.dtype == v.dtype and np.array_equal(u, v), f.name
            else:
                assert type(u) is type(v) and u == v, (f.name, u, v)


def test_pack_unpack_roundtrip(tmp_path: Path):
    gff = tmp_path / "tx.gff3"
    gff.write_text(GFF)
    models = read_transcripts(gff)
    assert {t.id for t in models} == {"T1", "T2"}
    assert any(t.cds_start is None for t in models) and any(t.version is None for t in models)
    key, back = unpack(pack(models, {"k": 1}))
    assert key == {"k": 1}
    _same(models, back)
    _, empty = unpack(pack([], {}))
    assert empty == []


def test_load_transcripts_cache_hit_miss_and_corruption(tmp_path: Path):
    gff = tmp_path / "tx.gff3"
    gff.write_text(GFF)
    cache = tmp_path / "cache"
    first = load_transcripts(gff, cache_dir=cache)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    _same(read_transcripts(gff), first)
    _same(first, load_transcripts(gff, cache_dir=cache))  # from the cache
    # a cache whose content does not belong to the file is not trusted
    files[0].write_bytes(b"not a cache")
    _same(first, load_transcripts(gff, cache_dir=cache))
    _same(first, load_transcripts(gff, cache_dir=cache))  # rewritten, readable again
    # another file content: another key
    gff.write_text(GFF.replace("version=3", "version=4"))
    changed = load_transcripts(gff, cache_dir=cache)
    assert next(t for t in changed if t.id == "T1").version == "4"
    assert len(list(cache.glob("*.npz"))) == 2
    # a biotype filter is part of the key
    only = load_transcripts(gff, biotypes={"lincRNA"}, cache_dir=cache)
    assert [t.id for t in only] == ["T2"]
    assert [t.id for t in load_transcripts(gff, cache_dir=cache)] == [t.id for t in changed]


def test_load_transcripts_default_dir_unwritable_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    gff = tmp_path / "tx.gff3"
    gff.write_text(GFF)
    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "home"))
    _same(read_transcripts(gff), load_transcripts(gff))
    assert len(list((tmp_path / "home").rglob("*.npz"))) == 1
    blocker = tmp_path / "file"
    blocker.write_text("")
    _same(read_transcripts(gff), load_transcripts(gff, cache_dir=blocker / "sub"))  # cannot write: parse only
    with pytest.raises(InputMissingError):
        load_transcripts(tmp_path / "missing.gff3", cache_dir=tmp_path / "c")
    bad = tmp_path / "bad.gff3"
    bad.write_text(GFF.replace("chr1\t.\texon\t301", "chr1\t.\texon\tx301", 1))
    with pytest.raises(MalformedInputError, match=r"bad\.gff3:5"):
        load_transcripts(bad, cache_dir=tmp_path / "c")
    assert not os.path.exists(tmp_path / "c") or not list((tmp_path / "c").glob("*.npz"))


def test_load_transcripts_chr21_equals_parser(tmp_path: Path):
    gff = require_shared("annotation/transcripts/ensembl_vep_test.chr21_full.gff3.gz")
    parsed = read_transcripts(gff)
    load_transcripts(gff, cache_dir=tmp_path)
    _same(parsed, load_transcripts(gff, cache_dir=tmp_path))
