"""Gene coordinates: embedded hgfind table, GFF3 parsing, interval queries."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from genoma.errors import InconsistentInputError, KnowledgeError, MalformedInputError
from genoma.kb import genes as kbgenes
from genoma.kb.base import get_source

from conftest import require_shared


def test_embedded_source_verifies():
    src = get_source("genes")
    assert src.embedded and src.builds == ("GRCh38",)
    src.verify()
    table = src.load()
    assert len(table) > 30_000
    assert set(table.chromosomes) <= set(kbgenes.PRIMARY)
    assert "chr1" in table.chromosomes and "chrX" in table.chromosomes
    # no alt scaffolds / patches, symbols non-empty
    assert all(table.cols["symbol"] != "")


def test_cyp2c19_and_brca1_grch38():
    g = kbgenes.gene("CYP2C19", "GRCh38")
    assert g.chrom == "chr10"
    assert 94_700_000 < g.start < 94_800_000 < g.end
    assert g.strand == 1
    hits = kbgenes.genes_at("chr17", 43_100_000, "GRCh38")
    assert [h.symbol for h in hits] == ["BRCA1"]
    assert [h.symbol for h in kbgenes.genes_at("17", 43_100_000, "GRCh38")] == ["BRCA1"]
    brca1 = kbgenes.gene("brca1", "GRCh38")
    assert brca1.chrom == "chr17" and brca1.strand == -1
    assert "BRCA1" not in {x.symbol for x in kbgenes.genes_at("chr17", brca1.start - 1, "GRCh38")}
    assert "BRCA1" in {
        x.symbol for x in kbgenes.genes_in("chr17", brca1.end, brca1.end + 10, "GRCh38")
    }
    assert "BRCA1" not in {x.symbol for x in kbgenes.genes_at("chr17", brca1.end + 1, "GRCh38")}


def test_synonym_lookup_and_unknown_symbol():
    g = kbgenes.gene("CYP2C19", "GRCh38")
    assert g.synonyms
    alias = g.synonyms[0]
    table = kbgenes.gene_table("GRCh38")
    if len({str(table.cols["symbol"][i]) for i in table._index()[1][alias.upper()]}) == 1:
        assert kbgenes.gene(alias, "GRCh38").symbol == "CYP2C19"
    with pytest.raises(KnowledgeError, match="NO_SUCH_GENE"):
        kbgenes.gene("NO_SUCH_GENE", "GRCh38")


def test_grch37_without_install_names_the_fix():
    with pytest.raises(InconsistentInputError, match="genoma kb install gencode-grch37"):
        kbgenes.genes_at("chr17", 41_200_000, "GRCh37")
    with pytest.raises(InconsistentInputError):
        get_source("genes").require_build("GRCh37")


def test_vectorised_overlaps_match_brute_force():
    table = kbgenes.gene_table("GRCh38")
    rng = np.random.default_rng(7)
    n = 400
    chroms = rng.choice(["chr1", "chr17", "chrX", "10", "chrUn_gl000220"], size=n)
    pos = rng.integers(1, 160_000_000, size=n)
    # add positions exactly at gene boundaries
    idx = rng.integers(0, len(table), size=50)
    chroms = np.concatenate([chroms, table.cols["chrom"][idx], table.cols["chrom"][idx]])
    pos = np.concatenate([pos, table.cols["start"][idx], table.cols["end"][idx]])
    q, g = table.overlaps(chroms, pos)
    got = {(int(a), int(b)) for a, b in zip(q, g, strict=True)}
    c = table.cols
    want = set()
    for i, (ch, p) in enumerate(zip(chroms, pos, strict=True)):
        rows = np.flatnonzero(
            (c["chrom"] == kbgenes.canonical_chrom(str(ch))) & (c["start"] <= p) & (c["end"] >= p)
        )
        want.update((i, int(r)) for r in rows)
    assert got == want
    assert len(want) > 100
    ann = kbgenes.annotate_positions(chroms, pos, "GRCh38")
    assert len(ann) == len(pos)
    for i in range(len(pos)):
        syms = {str(c["symbol"][r]) for (qq, r) in want if qq == i}
        assert set(filter(None, ann[i].split(","))) == syms


def _write_gff(path: Path, lines: list[str]) -> None:
    with gzip.open(path, "wt") as fh:
        fh.write("##gff-version 3\n")
        for line in lines:
            fh.write(line + "\n")


def test_parse_gencode_style_gff3(tmp_path):
    p = tmp_path / "mini.gff3.gz"
    _write_gff(
        p,
        [
            "chr17\tHAVANA\tgene\t41196312\t41277500\t.\t-\t.\tID=ENSG00000012048.23;gene_id=ENSG00000012048.23;gene_type=protein_coding;gene_name=BRCA1;hgnc_id=HGNC:1100",
            "chr17\tHAVANA\ttranscript\t41196312\t41277500\t.\t-\t.\tID=ENST1;Parent=ENSG00000012048.23;gene_name=BRCA1",
            "GL000220.1\tENSEMBL\tgene\t1\t100\t.\t+\t.\tID=ENSG9;gene_id=ENSG9;gene_name=ALT1",
            "NC_000010.10\tBestRefSeq\tgene\t96522463\t96612671\t.\t+\t.\tID=gene-CYP2C19;Dbxref=GeneID:1557,HGNC:HGNC:2621;Name=CYP2C19;gene=CYP2C19;gene_biotype=protein_coding",
        ],
    )
    cols = kbgenes.parse_gff3(p)
    table = kbgenes.GeneTable(cols, "GRCh37", "test", "1")
    assert len(table) == 2
    b = table.gene("BRCA1")
    assert (b.chrom, b.start, b.end, b.strand) == ("chr17", 41196312, 41277500, -1)
    assert b.ids == {"ensembl": "ENSG00000012048.23", "hgnc": "HGNC:1100"}
    assert b.biotype == "protein_coding"
    c = table.gene("CYP2C19")
    assert c.chrom == "chr10" and c.ids == {"ncbi": "1557", "hgnc": "HGNC:2621"}
    npz = tmp_path / "t.npz"
    table.to_npz(npz)
    again = kbgenes.GeneTable.from_npz(npz)
    assert again.gene("BRCA1") == b and again.build == "GRCh37"


def test_malformed_gff3_names_file_and_line(tmp_path):
    p = tmp_path / "bad.gff3"
    p.write_text("##gff-version 3\nchr1\tx\tgene\t1\n")
    with pytest.raises(MalformedInputError) as exc:
        kbgenes.parse_gff3(p)
    assert exc.value.line == 2 and exc.value.path == str(p)


def test_real_chr21_gff3_ensembl_and_refseq():
    base = require_shared("annotation", "transcripts")
    ens = kbgenes.GeneTable(
        kbgenes.parse_gff3(base / "ensembl_vep_test.chr21_full.gff3.gz"), "GRCh38", "ens", "84"
    )
    app = ens.gene("APP")
    assert (app.chrom, app.start, app.end, app.strand) == ("chr21", 25880550, 26171128, -1)
    assert app.ids["ensembl"] == "ENSG00000142192"
    assert [g.symbol for g in ens.at("chr21", 31_660_000)] == ["SOD1"]
    assert ens.chromosomes == ["chr21"]
    refseq = kbgenes.GeneTable(
        kbgenes.parse_gff3(base / "ensembl_vep_test.refseq_chr21.gff3.gz"), "GRCh38", "rs", "x"
    )
    assert len(refseq) > 0 and refseq.chromosomes == ["chr21"]


def test_hgfind_table_cached_on_disk(tmp_path, monkeypatch):
    """The embedded BioMart table is parsed once per file content, then read from the
    cache; the cached table equals the parsed one; an unwritable cache only costs time."""
    from genoma.kb.genes import HgfindGenes, _hgfind_file, _table_cache, parse_biomart

    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "home"))
    cache = _table_cache(_hgfind_file())
    assert cache is not None and not cache.exists()
    first = HgfindGenes()._load()
    assert cache.is_file()
    second = HgfindGenes()._load()
    parsed = parse_biomart(_hgfind_file())
    assert len(first) == len(second) == len(parsed["symbol"])
    for k in first.cols:
        assert (first.cols[k] == second.cols[k]).all(), k
    cache.write_bytes(b"not an npz")  # a damaged cache is ignored and rewritten
    assert len(HgfindGenes()._load()) == len(first)
    from genoma.kb.genes import GeneTable

    def refuse(self, path):  # a read-only home (root ignores chmod, so simulate it)
        raise PermissionError(13, "read-only", str(path))

    monkeypatch.setattr(GeneTable, "to_npz", refuse)
    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "other"))
    assert len(HgfindGenes()._load()) == len(first)
