"""Disk cache of the rare-disease knowledge, and re-ranking without re-reading the VCF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import genoma.analyses.rare.knowledge as knowledge_mod
from genoma.analyses.rare import diagnose
from genoma.analyses.rare.knowledge import (
    KNOWLEDGE_VERSION,
    knowledge_from_arrays,
    knowledge_to_arrays,
)
from genoma.errors import KnowledgeError
from genoma.kb import rare_cache
from genoma.kb.hpo_annotations import read_annotation_tables
from genoma.model.subject import Patient, PhenotypicFeature

HEAD = ("database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency"
        "\tsex\tmodifier\taspect\tbiocuration")


def _row(did: str, name: str, term: str, freq: str = "", aspect: str = "P",
         qual: str = "") -> str:
    return "\t".join([did, name, qual, term, "PMID:1", "PCS", "", freq, "", "", aspect, "x"])


HPOA = "\n".join([
    "#version: 2099-01-01",
    HEAD,
    _row("OMIM:616873", "Immunodeficiency 13", "HP:0010976", "80%"),
    _row("OMIM:616873", "Immunodeficiency 13", "HP:0004315"),
    _row("OMIM:616873", "Immunodeficiency 13", "HP:0001250", qual="NOT"),
    _row("OMIM:616873", "Immunodeficiency 13", "HP:0000006", aspect="I"),
    _row("OMIM:251200", "Microcephaly 1", "HP:0000252", "HP:0040280"),
    _row("OMIM:251200", "Microcephaly 1", "HP:0001249"),
    _row("OMIM:251200", "Microcephaly 1", "HP:0000007", aspect="I"),
    _row("OMIM:999999", "Seizure disorder", "HP:0001250", "3/4"),
    _row("OMIM:999999", "Seizure disorder", "HP:0000006", aspect="I"),
]) + "\n"
G2P = ("ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id\n"
       "1\tIKZF1\tHP:0010976\tx\t-\tOMIM:616873\n"
       "2\tMCPH1\tHP:0000252\tx\t-\tOMIM:251200\n"
       "3\tSCN1A\tHP:0001250\tx\t-\tOMIM:999999\n")
# IKZF1 (chr7), MCPH1 (chr8) and SCN1A (chr2) each carry one heterozygous variant
VCF = """##fileformat=VCFv4.2
##contig=<ID=chr2,length=242193529>
##contig=<ID=chr7,length=159345973>
##contig=<ID=chr8,length=145138636>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1
chr2\t166000000\t.\tC\tT\t50\tPASS\t.\tGT\t0/1
chr7\t50382602\t.\tC\tT\t50\tPASS\t.\tGT\t0/1
chr8\t6500000\t.\tA\tG\t50\tPASS\t.\tGT\t1/1
"""


@pytest.fixture(autouse=True)
def _fresh_memo():
    rare_cache.reset_memo()
    yield
    rare_cache.reset_memo()


@pytest.fixture
def ann(tmp_path: Path) -> Path:
    d = tmp_path / "hpoann"
    d.mkdir()
    (d / "phenotype.hpoa").write_text(HPOA)
    (d / "genes_to_phenotype.txt").write_text(G2P)
    return d


@pytest.fixture
def count_builds(monkeypatch):
    calls: list[int] = []
    real = knowledge_mod.build_knowledge

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(knowledge_mod, "build_knowledge", counting)
    return calls


def _patient(*terms: str) -> Patient:
    return Patient(id="S1", features=tuple(PhenotypicFeature(id=t) for t in terms))


def _same(a, b) -> None:
    assert a.term_ids == b.term_ids
    assert a.disease_ids == b.disease_ids and a.disease_names == b.disease_names
    assert a.moi == b.moi and a.row_genes == b.row_genes
    assert a.has_gene_links == b.has_gene_links
    assert a.annotation_version == b.annotation_version and a.hpo_version == b.hpo_version
    assert set(a.gene_rows) == set(b.gene_rows)
    for g in a.gene_rows:
        assert np.array_equal(a.gene_rows[g], b.gene_rows[g])
    for m in ("implied", "direct", "not_terms"):
        assert (getattr(a, m) != getattr(b, m)).nnz == 0
    assert np.array_equal(a.ic, b.ic) and np.array_equal(a.bg, b.bg)
    assert np.array_equal(a.ancestors_cols(a.col["HP:0001250"]),
                          b.ancestors_cols(b.col["HP:0001250"]))


def test_arrays_roundtrip_gives_same_ranking(ann):
    from genoma.kb import get_source

    onto = get_source("hpo").load()
    kn = knowledge_mod.build_knowledge(onto, read_annotation_tables(ann))
    arrays, meta = knowledge_to_arrays(kn)
    assert all(a.dtype != object for a in arrays.values())
    json.dumps(meta)  # JSON-serialisable
    back = knowledge_from_arrays(onto, arrays, meta)
    _same(kn, back)
    p = _patient("HP:0010976", "HP:0004315")
    r1 = [(c.disease_id, c.log10_lr) for c in diagnose(p, kn).candidates]
    r2 = [(c.disease_id, c.log10_lr) for c in diagnose(p, back).candidates]
    assert r1 == r2 and r1[0][0] == "OMIM:616873"


def test_from_arrays_rejects_inconsistent_input(ann):
    from genoma.kb import get_source

    onto = get_source("hpo").load()
    arrays, meta = knowledge_to_arrays(
        knowledge_mod.build_knowledge(onto, read_annotation_tables(ann)))
    bad = dict(arrays, implied_indices=arrays["implied_indices"] + 1000)
    with pytest.raises(KnowledgeError, match="implied"):
        knowledge_from_arrays(onto, bad, meta)
    with pytest.raises(KnowledgeError, match="HPO release"):
        knowledge_from_arrays(onto, arrays, dict(meta, hpo_version="1999-01-01"))
    with pytest.raises(KnowledgeError, match="code version"):
        knowledge_from_arrays(onto, arrays, dict(meta, knowledge_version="0"))
    with pytest.raises(KnowledgeError):
        knowledge_from_arrays(onto, {k: v for k, v in arrays.items() if k != "ic"}, meta)
    with pytest.raises(KnowledgeError, match="row metadata"):
        knowledge_from_arrays(onto, arrays, dict(meta, disease_names=meta["disease_names"][1:]))


def test_cache_written_then_loaded_without_building(ann, tmp_path, count_builds):
    cache = tmp_path / "cache"
    kn1 = rare_cache.load_rare_knowledge(ann, cache_dir=cache)
    assert len(count_builds) == 1
    files = sorted(p.suffix for p in cache.iterdir())
    assert files == [".json", ".npz"]
    meta = json.loads(next(cache.glob("*.json")).read_text())
    assert meta["key"]["knowledge_version"] == KNOWLEDGE_VERSION
    assert meta["key"]["annotation_version"] == "2099-01-01"
    assert len(meta["key"]["annotation_sha256"]) == 64
    rare_cache.reset_memo()
    kn2 = rare_cache.load_rare_knowledge(ann, cache_dir=cache)
    assert len(count_builds) == 1  # from disk
    assert kn2 is not kn1
    _same(kn1, kn2)
    assert rare_cache.load_rare_knowledge(ann, cache_dir=cache) is kn2  # memo


@pytest.mark.parametrize("damage", ["truncate_npz", "garbage_json", "swap_key", "bad_arrays"])
def test_corrupt_cache_is_ignored_and_rebuilt(ann, tmp_path, count_builds, damage):
    cache = tmp_path / "cache"
    kn1 = rare_cache.load_rare_knowledge(ann, cache_dir=cache)
    npz, js = next(cache.glob("*.npz")), next(cache.glob("*.json"))
    if damage == "truncate_npz":
        npz.write_bytes(npz.read_bytes()[:200])
    elif damage == "garbage_json":
        js.write_text("{not json")
    elif damage == "swap_key":
        meta = json.loads(js.read_text())
        meta["key"]["annotation_sha256"] = "0" * 64
        js.write_text(json.dumps(meta))
    else:  # checksum matches, but the arrays do not fit the metadata
        meta = json.loads(js.read_text())
        meta["knowledge"]["term_ids"] = meta["knowledge"]["term_ids"][:-1]
        js.write_text(json.dumps(meta))
    rare_cache.reset_memo()
    kn2 = rare_cache.load_rare_knowledge(ann, cache_dir=cache)
    assert len(count_builds) == 2  # rebuilt, not trusted
    _same(kn1, kn2)
    rare_cache.reset_memo()
    rare_cache.load_rare_knowledge(ann, cache_dir=cache)
    assert len(count_builds) == 2  # the rebuild rewrote a valid cache


def test_changed_annotations_change_the_key(ann, tmp_path, count_builds):
    cache = tmp_path / "cache"
    kn1 = rare_cache.load_rare_knowledge(ann, cache_dir=cache)
    (ann / "phenotype.hpoa").write_text(HPOA + _row("OMIM:5", "New disease", "HP:0000252")
                                        + "\n")
    rare_cache.reset_memo()
    kn2 = rare_cache.load_rare_knowledge(ann, cache_dir=cache)
    assert len(count_builds) == 2
    assert "OMIM:5" in kn2.disease_ids and "OMIM:5" not in kn1.disease_ids
    assert len(list(cache.glob("*.npz"))) == 2


def test_unwritable_cache_still_returns_knowledge(ann, tmp_path, count_builds):
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the cache folder should be
    kn = rare_cache.load_rare_knowledge(ann, cache_dir=blocker / "rare")
    assert "OMIM:251200" in kn.disease_ids and len(count_builds) == 1


def test_rerank_reuses_variants_without_the_vcf(ann, tmp_path):
    from genoma.steps import rare_diagnosis

    vcf = tmp_path / "s1.vcf"
    vcf.write_text(VCF)
    first = rare_diagnosis(_patient("HP:0010976", "HP:0004315"), vcf=vcf, build="GRCh38",
                           hpo_annotations=ann)
    assert first.gene_variants is not None and set(first.gene_variants) >= {"IKZF1", "MCPH1"}
    top1 = first.result.candidates[0]
    assert (top1.disease_id, top1.gene) == ("OMIM:616873", "IKZF1")
    vcf.unlink()  # re-ranking must not touch the VCF
    second = rare_diagnosis(_patient("HP:0000252", "HP:0001249"), vcf=vcf, build="GRCh38",
                            hpo_annotations=ann, genotype_from=first)
    top2 = second.result.candidates[0]
    assert (top2.disease_id, top2.gene) == ("OMIM:251200", "MCPH1")
    assert top2.variants  # the reused genotype still scores the variants
    assert second.gene_variants is first.gene_variants
    assert second.build == first.build
    order1 = [c.disease_id for c in first.result.candidates]
    order2 = [c.disease_id for c in second.result.candidates]
    assert order1 != order2
