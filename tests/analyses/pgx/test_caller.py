"""Star-allele calling on small synthetic VCFs written from the real pypgx definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import genoma.kb as kb
from genoma.analyses.pgx.caller import (
    GeneCalls,
    call_gene,
    call_genes,
    callable_genes,
    gene_regions,
)
from genoma.analyses.pgx.definitions import allele_sort_key, compile_gene
from genoma.errors import InconsistentInputError
from genoma.io.vcf import open_vcf

LENGTHS = {
    "GRCh38": {"chr1": 248956422, "chr2": 242193529, "chr6": 170805979, "chr7": 159345973,
               "chr10": 133797422, "chr22": 50818468, "chrX": 156040895},
    "GRCh37": {"chr1": 249250621, "chr2": 243199373, "chr7": 159138663, "chr10": 135534747,
               "chr22": 51304566, "chrX": 155270560},
}


@pytest.fixture(scope="module")
def knowledge():
    return kb.get_source("pgx").load()


def core(knowledge, gene: str, allele: str, build: str = "GRCh38") -> list[tuple]:
    """Real core variants of an allele: [(chrom, pos, ref, alt)]."""
    a = knowledge.alleles
    row = a[(a.Gene == gene) & (a.StarAllele == allele)].iloc[0]
    out = []
    for item in str(row[f"{build}Core"]).split(","):
        c, p, r, x = item.split("-")
        out.append(("chr" + c, int(p), r, x))
    return out


def write_vcf(path: Path, build: str, samples: list[str], records: list[tuple]) -> Path:
    """records: (chrom, pos, ref, alt, [GT per sample])."""
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in LENGTHS[build].items()]
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", *samples]))
    order = {c: i for i, c in enumerate(LENGTHS[build])}
    for c, p, r, a, gts in sorted(records, key=lambda x: (order[x[0]], x[1])):
        lines.append("\t".join([c, str(p), ".", r, a, ".", "PASS", ".", "GT", *gts]))
    path.write_text("\n".join(lines) + "\n")
    return path


def read(path: Path, knowledge, genes: list[str], build: str):
    with open_vcf(path) as f:
        assert f.build == build
        return f.genotypes(gene_regions(genes, build, knowledge))


def cyp2c19_records(knowledge, build: str, gts: dict[str, list[str]]) -> list[tuple]:
    """CYP2C19 *2 (two variants), *17 and the GRCh38 *1 background variant."""
    recs = []
    for allele, gt in gts.items():
        if allele == "bg":
            v = core(knowledge, "CYP2C19", "*1", build)[0]
            recs.append((*v, gt))
            continue
        for k, v in enumerate(core(knowledge, "CYP2C19", allele, build)):
            recs.append((*v, gt if isinstance(gt[0], str) else gt[k]))
    return recs


def test_phased_and_unphased_2_17(tmp_path, knowledge):
    samples = ["phased", "phased_rev", "unphased", "ref", "ref38", "het38"]
    recs = cyp2c19_records(knowledge, "GRCh38", {
        "*2": ["1|0", "0|1", "0/1", "0|0", "0|0", "0|0"],
        "*17": ["0|1", "1|0", "0/1", "0|0", "0|0", "0|0"],
        "bg": ["1|1", "1|1", "1/1", "1|1", "0|0", "0|1"],
    })
    g = read(write_vcf(tmp_path / "a.vcf", "GRCh38", samples, recs), knowledge,
             ["CYP2C19"], "GRCh38")
    c = call_gene(g, "CYP2C19", "GRCh38", knowledge)
    assert isinstance(c, GeneCalls)
    assert c.diplotypes() == ["*2/*17", "*2/*17", "*2/*17", "*1/*1", "*38/*38", "*1/*38"]
    assert list(c.status) == ["called"] * 6
    # lower allele first whatever the haplotype order
    assert c.allele1[1] == "*2" and c.allele2[1] == "*17"
    assert list(c.phased) == [True, True, False, True, True, True]
    assert any("unphased" in n for n in c.notes[2])
    assert c.candidates[0] == []
    assert c.knowledge_version.startswith("pypgx")
    # defining positions not in this VCF are assumed reference, and said so
    assert c.n_positions_in_vcf == 4
    assert c.n_positions > c.n_positions_in_vcf
    assert len(c.missing_positions[0]) == c.n_positions - c.n_positions_in_vcf
    assert any("assumed reference" in n for n in c.notes[0])


def test_unphased_dosages_and_ties(tmp_path, knowledge):
    v15 = core(knowledge, "CYP2C19", "*15")[0]
    v13 = core(knowledge, "CYP2C19", "*13")[0]
    bg = core(knowledge, "CYP2C19", "*1")[0]
    recs = [(*v15, ["0/1", "1|0"]), (*v13, ["0/1", "0|1"]), (*bg, ["1/1", "1|1"])]
    g = read(write_vcf(tmp_path / "b.vcf", "GRCh38", ["u", "p"], recs), knowledge,
             ["CYP2C19"], "GRCh38")
    c = call_gene(g, "CYP2C19", "GRCh38", knowledge)
    # unphased: *13/*15 explains both variants, *1/*13 or *1/*15 only one
    assert c.diplotype(0) == "*13/*15" and c.status[0] == "called"
    assert not c.phased[0] and c.phased[1]
    assert c.diplotype(1) == "*13/*15"


def test_equal_candidates_on_one_haplotype_are_ambiguous(tmp_path, knowledge):
    # CYP4B1 *2 and *5: one core variant each, same function: a haplotype carrying both
    # matches both equally
    v2 = core(knowledge, "CYP4B1", "*2")[0]
    v5 = core(knowledge, "CYP4B1", "*5")[0]
    recs = [(*v2, ["1|0", "0/1"]), (*v5, ["1|0", "0/1"])]
    g = read(write_vcf(tmp_path / "o.vcf", "GRCh38", ["cis", "unphased"], recs), knowledge,
             ["CYP4B1"], "GRCh38")
    c = call_gene(g, "CYP4B1", "GRCh38", knowledge)
    assert c.status[0] == "ambiguous"
    assert c.candidates[0] == ["*1/*2", "*1/*5"]
    assert c.diplotype(0) == "*1/*2"
    # unphased, the pair explaining both variants wins
    assert c.diplotype(1) == "*2/*5" and c.status[1] == "called"


def test_no_call_lowers_certainty(tmp_path, knowledge):
    v2a, v2b = core(knowledge, "CYP2C19", "*2")
    v3 = core(knowledge, "CYP2C19", "*3")[0]
    bg = core(knowledge, "CYP2C19", "*1")[0]
    # s0: *35-variant het, the other *2 variant is a no-call -> *1/*35 or *1/*2
    # s1: everything called reference except a no-call at the *3 position
    recs = [(*v2a, ["0|1", "0|0"]), (*v2b, ["./.", "0|0"]), (*v3, ["0|0", "./."]),
            (*bg, ["1|1", "1|1"])]
    g = read(write_vcf(tmp_path / "c.vcf", "GRCh38", ["s0", "s1"], recs), knowledge,
             ["CYP2C19"], "GRCh38")
    c = call_gene(g, "CYP2C19", "GRCh38", knowledge)
    assert c.status[0] == "ambiguous"
    assert set(c.candidates[0]) == {"*1/*2", "*1/*35"}
    assert f"{v2b[0]}:{v2b[1]}" in c.missing_positions[0]
    assert c.status[1] == "ambiguous"
    assert set(c.candidates[1]) == {"*1/*1", "*1/*3", "*3/*3"}
    assert f"{v3[0]}:{v3[1]}" in c.missing_positions[1]
    assert any("no call" in n for n in c.notes[1])


def test_all_no_call_is_not_callable(tmp_path, knowledge):
    v = core(knowledge, "CYP2C19", "*17")[0]
    recs = [(*v, ["./.", "0|1"])]
    g = read(write_vcf(tmp_path / "d.vcf", "GRCh38", ["nc", "ok"], recs), knowledge,
             ["CYP2C19"], "GRCh38")
    c = call_gene(g, "CYP2C19", "GRCh38", knowledge)
    assert c.status[0] == "not_callable" and c.allele1[0] is None
    assert c.diplotype(0) == ""
    assert c.status[1] == "called"
    assert c.diplotype(1) == "*38/*17".replace("*38/*17", "*17/*38")


def test_gene_without_positions_is_not_callable(tmp_path, knowledge):
    recs = [("chr1", 1000000, "A", "G", ["0|1"])]
    g = read(write_vcf(tmp_path / "e.vcf", "GRCh38", ["s"], recs), knowledge,
             ["CYP2C19", "CYP2C9"], "GRCh38")
    res = call_genes(g, ["CYP2C19", "CYP2C9"], "GRCh38", knowledge)
    for gene, c in res.items():
        assert c.status[0] == "not_callable", gene
        assert c.n_positions_in_vcf == 0
        assert any("no record" in n for n in c.notes[0])


def test_absent_positions_as_no_call(tmp_path, knowledge):
    v17 = core(knowledge, "CYP2C19", "*17")[0]
    recs = [(*v17, ["0|1"])]
    g = read(write_vcf(tmp_path / "f.vcf", "GRCh38", ["s"], recs), knowledge,
             ["CYP2C19"], "GRCh38")
    assumed = call_gene(g, "CYP2C19", "GRCh38", knowledge)
    strict = call_gene(g, "CYP2C19", "GRCh38", knowledge, assume_ref_when_absent=False)
    assert assumed.status[0] == "called" and assumed.diplotype(0) == "*17/*38"
    # every other position is unknown: *17 is there, the rest cannot be excluded
    assert strict.status[0] == "ambiguous"
    assert len(strict.candidates[0]) > 1


def test_grch37(tmp_path, knowledge):
    recs = cyp2c19_records(knowledge, "GRCh37", {
        "*2": ["0|1", "0/1", "0|0"],
        "*17": ["1|0", "0/1", "0|0"],
    })
    g = read(write_vcf(tmp_path / "g.vcf", "GRCh37", ["p", "u", "r"], recs), knowledge,
             ["CYP2C19"], "GRCh37")
    c = call_gene(g, "CYP2C19", "GRCh37", knowledge)
    assert c.build == "GRCh37"
    assert c.diplotypes() == ["*2/*17", "*2/*17", "*1/*1"]


def test_build_mismatch(tmp_path, knowledge):
    recs = cyp2c19_records(knowledge, "GRCh37", {"*17": ["0|1"]})
    g = read(write_vcf(tmp_path / "h.vcf", "GRCh37", ["s"], recs), knowledge,
             ["CYP2C19"], "GRCh37")
    with pytest.raises(InconsistentInputError):
        call_gene(g, "CYP2C19", "GRCh38", knowledge)


def test_novel_combination_note(tmp_path, knowledge):
    # one of the two *34 variants alone is no allele: the haplotype is called by what
    # it matches, with a note
    v34a, _ = core(knowledge, "CYP2C19", "*34")
    bg = core(knowledge, "CYP2C19", "*1")[0]
    recs = [(*v34a, ["1|0"]), (*bg, ["1|1"])]
    g = read(write_vcf(tmp_path / "i.vcf", "GRCh38", ["s"], recs), knowledge,
             ["CYP2C19"], "GRCh38")
    c = call_gene(g, "CYP2C19", "GRCh38", knowledge)
    assert c.diplotype(0) == "*1/*1"
    assert any("novel combination" in n and str(v34a[1]) in n for n in c.notes[0])


def test_cyp2d6_nested_cores_and_sv_note(tmp_path, knowledge):
    # a *4 haplotype carries the *10 core variants too; *4 (no function) must win
    v4 = core(knowledge, "CYP2D6", "*4")
    v10 = core(knowledge, "CYP2D6", "*10")
    recs = [(*v, ["1|0"]) for v in v4 + v10]
    g = read(write_vcf(tmp_path / "j.vcf", "GRCh38", ["s"], recs), knowledge,
             ["CYP2D6"], "GRCh38")
    c = call_gene(g, "CYP2D6", "GRCh38", knowledge)
    assert c.diplotype(0) == "*1/*4"
    assert any("SV" in n and "*5" in n and "outside call" in n for n in c.notes[0])


def test_indel_representations(tmp_path, knowledge):
    # UGT1A1*28 written with extra anchor bases; CYP2D6*3 written one base to the right
    (c28, p28, _, _) = core(knowledge, "UGT1A1", "*28")[0]
    (c3, p3, r3, a3) = core(knowledge, "CYP2D6", "*3")[0]
    assert r3 == "CT" and a3 == "C"
    recs = [(c28, p28, "CAT", "CATAT", ["0|1"]), (c3, p3 + 1, "TT", "T", ["1|0"])]
    g = read(write_vcf(tmp_path / "k.vcf", "GRCh38", ["s"], recs), knowledge,
             ["UGT1A1", "CYP2D6"], "GRCh38")
    res = call_genes(g, ["UGT1A1", "CYP2D6"], "GRCh38", knowledge)
    assert res["UGT1A1"].diplotype(0) == "*1/*28"
    assert res["CYP2D6"].diplotype(0) == "*1/*3"
    assert any("other alignment" in n for n in res["CYP2D6"].notes[0])


def test_haploid_call(tmp_path, knowledge):
    va = core(knowledge, "G6PD", "A")[0]
    recs = [(*va, ["1", "0|1"])]
    g = read(write_vcf(tmp_path / "l.vcf", "GRCh38", ["male", "female"], recs), knowledge,
             ["G6PD"], "GRCh38")
    c = call_gene(g, "G6PD", "GRCh38", knowledge)
    assert c.diplotype(0) == "A" and c.allele2[0] is None
    assert c.diplotype(1) == "B (reference)/A"


def test_sort_key_and_regions(knowledge):
    assert sorted(["*17", "*2", "*10", "*1"], key=allele_sort_key) == ["*1", "*2", "*10", "*17"]
    assert sorted(["rs2231142", "Reference"], key=allele_sort_key) == ["Reference", "rs2231142"]
    d = compile_gene(knowledge, "CYP2C19", "GRCh38")
    chrom, _, span = gene_regions(["CYP2C19"], "GRCh38", knowledge)[0].partition(":")
    a, b = (int(x) for x in span.split("-"))
    assert all(c == chrom and a <= p <= b for c, p, _, _ in d.variants)
    # overlapping gene regions are merged into disjoint ones
    regs = gene_regions(["CYP2A13", "CYP2F1", "CYP2C19"], "GRCh38", knowledge)
    assert len(regs) == 2
    genes = callable_genes(knowledge, "GRCh38")
    for g in ["CYP2C19", "CYP2C9", "CYP2D6", "DPYD", "TPMT", "NUDT15", "SLCO1B1", "UGT1A1",
              "VKORC1", "CYP4F2", "CYP3A5", "CYP2B6", "IFNL3", "ABCG2", "NAT2", "G6PD",
              "CFTR", "RYR1", "CACNA1S", "CYP3A4"]:
        assert g in genes
    assert "CYP2D7" not in genes


def test_vectorised_matches_single_sample(tmp_path, knowledge):
    """Calling many samples at once equals calling each alone."""
    rng = np.random.default_rng(7)
    variants = [core(knowledge, "CYP2C9", a)[0] for a in ["*2", "*3", "*8", "*9", "*11"]]
    samples = [f"s{i}" for i in range(40)]
    recs = []
    for v in variants:
        gts = [f"{int(rng.random() < 0.15)}|{int(rng.random() < 0.15)}" for _ in samples]
        recs.append((*v, gts))
    path = write_vcf(tmp_path / "m.vcf", "GRCh38", samples, recs)
    g = read(path, knowledge, ["CYP2C9"], "GRCh38")
    allc = call_gene(g, "CYP2C9", "GRCh38", knowledge)
    for i in (0, 5, 17, 39):
        with open_vcf(path, samples=[samples[i]]) as f:
            one = call_gene(f.genotypes(gene_regions(["CYP2C9"], "GRCh38", knowledge)),
                            "CYP2C9", "GRCh38", knowledge)
        assert one.diplotype(0) == allc.diplotype(i)
        assert one.status[0] == allc.status[i]


def test_reference_genome_allele_vs_gene_reference(tmp_path, knowledge):
    """ABCB1 on GRCh38: the genome carries *2 (increased function), *1 is defined by
    three variants that pypgx lists as *1's core: background agreement decides, not
    function."""
    v1 = core(knowledge, "ABCB1", "*1")
    recs = [(*v, ["1|0", "0/0"]) for v in v1]
    g = read(write_vcf(tmp_path / "n.vcf", "GRCh38", ["het", "hom2"], recs), knowledge,
             ["ABCB1"], "GRCh38")
    c = call_gene(g, "ABCB1", "GRCh38", knowledge)
    assert c.diplotypes() == ["*1/*2", "*2/*2"]


def test_unphased_prefers_the_more_specific_allele(tmp_path, knowledge):
    """TPMT *3A = *3B + *3C variants: unphased double heterozygote is *1/*3A (the
    more specific allele), not *3B/*3C, which explains as many variants."""
    v3a = core(knowledge, "TPMT", "*3A")
    recs = [(*v, ["0/1"]) for v in v3a]
    g = read(write_vcf(tmp_path / "p.vcf", "GRCh38", ["s"], recs), knowledge,
             ["TPMT"], "GRCh38")
    c = call_gene(g, "TPMT", "GRCh38", knowledge)
    assert c.diplotype(0) == "*1/*3A"
    assert not c.phased[0]
