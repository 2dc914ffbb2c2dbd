"""Unit tests of the rare-disease engine on small knowledge built in the test."""

from __future__ import annotations

import numpy as np
import pytest

from genoma.analyses.rare import (
    AnnotationTables,
    build_knowledge,
    collect_gene_variants,
    diagnose,
    genotype_lr,
    parse_genes_to_phenotype,
    parse_hpoa,
    rank_diagnoses,
    score_phenotypes,
)
from genoma.analyses.rare.genotype import GenotypeParams
from genoma.analyses.rare.inheritance import alleles_needed, modes_for
from genoma.analyses.rare.knowledge import parse_frequency
from genoma.errors import MalformedInputError
from genoma.model.genotype import Call, Genotype
from genoma.model.subject import Patient, PhenotypicFeature
from genoma.model.variant import Variant

HEAD = ("database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency"
        "\tsex\tmodifier\taspect\tbiocuration")


def _row(did: str, name: str, term: str, freq: str = "", aspect: str = "P",
         qual: str = "") -> str:
    return "\t".join([did, name, qual, term, "PMID:1", "PCS", "", freq, "", "", aspect, "x"])


HPOA = [
    "#version: 2099-01-01",
    HEAD,
    # epilepsy disease, AD, seizures obligate
    _row("OMIM:1", "Epilepsy syndrome", "HP:0001250", "HP:0040280"),
    _row("OMIM:1", "Epilepsy syndrome", "HP:0001263", "3/4"),
    _row("OMIM:1", "Epilepsy syndrome", "HP:0000006", aspect="I"),
    # microcephaly disease, AR, hearing loss obligate
    _row("OMIM:2", "Microcephaly deafness", "HP:0000252", "HP:0040281"),
    _row("OMIM:2", "Microcephaly deafness", "HP:0000365", "HP:0040280"),
    _row("OMIM:2", "Microcephaly deafness", "HP:0001249", ""),
    _row("OMIM:2", "Microcephaly deafness", "HP:0000007", aspect="I"),
    # immunodeficiency, AD, explicitly no seizures
    _row("OMIM:3", "B cell deficiency", "HP:0010976", "80%"),
    _row("OMIM:3", "B cell deficiency", "HP:0004315", ""),
    _row("OMIM:3", "B cell deficiency", "HP:0001250", qual="NOT"),
    _row("OMIM:3", "B cell deficiency", "HP:0000006", aspect="I"),
    _row("DECIPHER:9", "skipped", "HP:0000252"),
]
G2P = ["ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id",
       "1\tGENEA\tHP:0001250\tSeizure\t-\tOMIM:1",
       "2\tGENEB\tHP:0000252\tMicrocephaly\t-\tOMIM:2",
       "3\tIKZF1\tHP:0010976\tx\t-\tOMIM:3"]


@pytest.fixture(scope="module")
def kn():
    from genoma.kb import get_source

    version, diseases = parse_hpoa(HPOA)
    genes = parse_genes_to_phenotype(G2P)
    return build_knowledge(get_source("hpo").load(), AnnotationTables(version, diseases, genes))


def test_parse_frequency():
    assert parse_frequency("HP:0040280") == 1.0
    assert parse_frequency("3/4") == 0.75
    assert parse_frequency("45%") == pytest.approx(0.45)
    assert parse_frequency("") is None
    assert parse_frequency("often") is None
    assert parse_frequency("1/0") is None


def test_parse_hpoa_fields():
    version, d = parse_hpoa(HPOA)
    assert version == "2099-01-01"
    assert set(d) == {"OMIM:1", "OMIM:2", "OMIM:3"}
    assert d["OMIM:1"].terms == {"HP:0001250": 1.0, "HP:0001263": 0.75}
    assert d["OMIM:2"].terms["HP:0001249"] is None
    assert d["OMIM:2"].moi == {"AR"}
    assert d["OMIM:3"].not_terms == {"HP:0001250"}


def test_parse_hpoa_malformed_names_line():
    with pytest.raises(MalformedInputError) as ei:
        parse_hpoa(["#version: x", HEAD, "OMIM:1\tname\tonly three"], source="p.hpoa")
    assert ei.value.line == 3 and "p.hpoa" in str(ei.value)
    with pytest.raises(MalformedInputError):
        parse_hpoa(["no header here"])
    with pytest.raises(MalformedInputError):
        parse_genes_to_phenotype(["a\tb"])


def test_knowledge_matrices(kn):
    r1 = kn.row_of["OMIM:1"]
    seizure, root = kn.col["HP:0001250"], kn.col["HP:0000118"]
    assert kn.direct[r1, seizure] == pytest.approx(1.0)
    # true-path closure: the disease implies every ancestor of its terms
    assert kn.implied[r1, root] == pytest.approx(1.0)
    assert kn.implied[r1, kn.col["HP:0000252"]] == 0
    assert kn.row_genes[r1] == ("GENEA",)
    assert kn.moi[kn.row_of["OMIM:2"]] == frozenset({"AR"})
    # IC grows with specificity
    assert kn.ic[seizure] > kn.ic[root]


def test_phenotype_ranking_exact_and_specific(kn):
    ph = score_phenotypes(kn, ["HP:0001250", "HP:0001263"])
    best = int(np.argmax(ph.log10_lr))
    assert kn.disease_ids[best] == "OMIM:1"
    # a more specific patient term (status epilepticus ⊂ seizure) still matches OMIM:1
    ph2 = score_phenotypes(kn, ["HP:0002133"])
    assert kn.disease_ids[int(np.argmax(ph2.log10_lr))] == "OMIM:1"
    assert ph2.log10_lr[kn.row_of["OMIM:1"]] > 0


def test_excluded_and_not_terms_count_against(kn):
    r2 = kn.row_of["OMIM:2"]
    with_ex = score_phenotypes(kn, ["HP:0000252"], ["HP:0000365"]).log10_lr[r2]
    without = score_phenotypes(kn, ["HP:0000252"]).log10_lr[r2]
    assert with_ex < without
    r3 = kn.row_of["OMIM:3"]
    s = score_phenotypes(kn, ["HP:0010976", "HP:0001250"]).log10_lr
    s_no = score_phenotypes(kn, ["HP:0010976"]).log10_lr
    assert s[r3] < s_no[r3]  # OMIM:3 is annotated NOT seizure


def test_obsolete_replaced_unknown_dropped(kn):
    ph = score_phenotypes(kn, ["HP:0000057", "HP:9999999", "HP:0001250"])
    assert ph.replaced == {"HP:0000057": "HP:0008665"}
    assert ph.dropped == ["HP:9999999"]
    assert ph.observed == ["HP:0008665", "HP:0001250"]


def _call(chrom, pos, gt, phased=False, ps=None, flt="PASS"):
    return Call(variant=Variant(chrom=chrom, pos=pos, ref="A", alt="G", build="GRCh38"),
                genotype=Genotype(alleles=gt, phased=phased, phase_set=ps, filter=flt),
                sample="p")


class _Genes:
    """A two-gene table with the GeneTable interface used by collect_gene_variants."""

    def __init__(self):
        from genoma.kb.genes import Gene

        self.g = {"GENEA": Gene("GENEA", "chr2", 1000, 2000, 1),
                  "GENEX": Gene("GENEX", "chrX", 1000, 2000, 1)}
        self.cols = {"symbol": np.array(list(self.g))}

    def overlaps(self, chroms, starts, ends):
        q, r = [], []
        for i, (c, s) in enumerate(zip(chroms, starts, strict=True)):
            for j, gene in enumerate(self.g.values()):
                if gene.chrom == c and gene.start <= s <= gene.end:
                    q.append(i)
                    r.append(j)
        return np.array(q, dtype=int), np.array(r, dtype=int)

    def loci(self, sym):
        return [self.g[sym]] if sym in self.g else []


def test_hom_ref_nocall_and_filtered_are_not_carriers():
    gv = collect_gene_variants([_call("chr2", 1500, (0, 0)), _call("chr2", 1501, (None, None)),
                                _call("chr2", 1502, (0, 1), flt="LowQual")], _Genes())
    assert gv == {}


def test_recessive_needs_two_hits_in_trans():
    prm = GenotypeParams(rate_per_kb=0.01)
    one = collect_gene_variants([_call("chr2", 1500, (0, 1))], _Genes())
    lr1, _, desc = genotype_lr(one["GENEA"], "AR", "FEMALE", annotated=False, params=prm)
    assert lr1 == prm.lr_one_hit and "one heterozygous" in desc
    lr_ad, used, _ = genotype_lr(one["GENEA"], "AD", "FEMALE", annotated=False, params=prm)
    assert lr_ad > 1 and len(used) == 1
    # unphased compound heterozygote: counted, phase unknown
    two = collect_gene_variants([_call("chr2", 1500, (0, 1)), _call("chr2", 1600, (0, 1))],
                                _Genes())
    lr2, used, desc = genotype_lr(two["GENEA"], "AR", "FEMALE", annotated=False, params=prm)
    assert lr2 > 1 and len(used) == 2 and "phase unknown" in desc
    # phased in cis (same haplotype, same phase set): not a compound heterozygote
    cis = collect_gene_variants([_call("chr2", 1500, (0, 1), True, 7),
                                 _call("chr2", 1600, (0, 1), True, 7)], _Genes())
    lr3, _, _ = genotype_lr(cis["GENEA"], "AR", "FEMALE", annotated=False, params=prm)
    assert lr3 == prm.lr_one_hit
    trans = collect_gene_variants([_call("chr2", 1500, (0, 1), True, 7),
                                   _call("chr2", 1600, (1, 0), True, 7)], _Genes())
    lr4, _, desc4 = genotype_lr(trans["GENEA"], "AR", "FEMALE", annotated=False, params=prm)
    assert lr4 > 1 and desc4 == "compound heterozygous"
    hom = collect_gene_variants([_call("chr2", 1500, (1, 1))], _Genes())
    assert genotype_lr(hom["GENEA"], "AR", "FEMALE", annotated=False, params=prm)[0] > 1
    assert genotype_lr(None, "AR", "FEMALE", annotated=False,
                       params=prm)[0] == prm.lr_no_variant


def test_parents_cis_de_novo_and_unaffected_homozygous_parent():
    prm = GenotypeParams(rate_per_kb=0.01)
    calls = [_call("chr2", 1500, (0, 1)), _call("chr2", 1600, (0, 1))]
    k1, k2 = "chr2:1500:A:G", "chr2:1600:A:G"
    same = collect_gene_variants(calls, _Genes(), parents={"father": {k1: 1, k2: 1},
                                                           "mother": {k1: 0, k2: 0}})
    assert genotype_lr(same["GENEA"], "AR", "F", annotated=False, params=prm)[0] == \
        prm.lr_one_hit
    diff = collect_gene_variants(calls, _Genes(), parents={"father": {k1: 1, k2: 0},
                                                           "mother": {k1: 0, k2: 1}})
    lr, _, desc = genotype_lr(diff["GENEA"], "AR", "F", annotated=False, params=prm)
    assert lr > 1 and desc == "compound heterozygous"
    dn = collect_gene_variants(calls[:1], _Genes(), parents={"father": {k1: 0},
                                                             "mother": {k1: 0}})
    assert dn["GENEA"].variants[0].origin == "de_novo"
    homp = collect_gene_variants([_call("chr2", 1500, (1, 1))], _Genes(),
                                 parents={"father": {k1: 2}, "mother": {k1: 1}})
    assert genotype_lr(homp["GENEA"], "AR", "F", annotated=False, params=prm)[0] == \
        prm.lr_one_hit


def test_x_linked_hemizygous_male():
    assert alleles_needed("XLR", "MALE", "chrX") == 1
    assert alleles_needed("XLR", "FEMALE", "chrX") == 2
    assert alleles_needed("AR", "FEMALE", "chr2") == 2
    assert modes_for(frozenset()) == ("AD", "AR")
    gv = collect_gene_variants([_call("chrX", 1500, (0, 1))], _Genes(), sex="MALE")
    assert gv["GENEX"].variants[0].copies == 2
    assert genotype_lr(gv["GENEX"], "XLR", "MALE", annotated=False)[0] > \
        GenotypeParams().lr_one_hit


def test_rank_combines_genotype_and_explains(kn):
    pt = Patient(id="p1", sex="FEMALE", features=(
        PhenotypicFeature(id="HP:0000252"), PhenotypicFeature(id="HP:0001249"),
        PhenotypicFeature(id="HP:0000057"), PhenotypicFeature(id="HP:0000365",
                                                               excluded=True)))
    genes = _Genes()
    genes.g["GENEB"] = genes.g.pop("GENEA")
    genes.g["GENEB"] = type(genes.g["GENEB"])("GENEB", "chr2", 1000, 2000, 1)
    genes.cols = {"symbol": np.array(list(genes.g))}
    gv = collect_gene_variants([_call("chr2", 1500, (1, 1))], genes)
    res = diagnose(pt, kn, gene_variants=gv, build="GRCh38",
                   genotype_params=GenotypeParams(rate_per_kb=0.01))
    top = res.candidates[0]
    assert (top.disease_id, top.gene, top.mode) == ("OMIM:2", "GENEB", "AR")
    assert top.variants and top.geno_log10_lr > 0
    assert abs(sum(c.score for c in res.candidates) - 1.0) < 1e-9
    codes = {x.code for x in res.limitations}
    assert {"RARE_HPO_REPLACED", "RARE_NO_CONSEQUENCES"} <= codes
    rows = res.rows()
    assert rows[0]["variants"] == "chr2:1500:A:G" and rows[0]["rank"] == 1
    assert "HP:0000252~HP:0000252" in rows[0]["matched_terms"]
    f = res.findings(2)[0]
    assert f.kind == "diagnosis" and f.rank == 1 and f.genes == ("GENEB",)
    kinds = {t["term"]: t["kind"] for t in f.data["terms"]}
    assert kinds["HP:0000252"] == "match" and kinds["HP:0000365"] == "excluded"
    it = res.interpretation()
    assert it["diagnosis"]["disease"]["id"] == "OMIM:2"
    gi = it["diagnosis"]["genomicInterpretations"][0]
    assert gi["variantInterpretation"]["variationDescriptor"]["allelicState"]["label"] == \
        "homozygous"


def test_gene_filter_keeps_unannotated_genes(kn):
    ph = score_phenotypes(kn, ["HP:0001250"])
    cands = rank_diagnoses(kn, ph, genes=["GENEB", "GENEA", "NOSUCH"])
    assert [c.gene for c in cands] == ["GENEA", "GENEB", "NOSUCH"]
    assert cands[-1].disease_id == "" and cands[-1].score == 0


def test_patient_without_phenotypes_is_a_clear_error(kn):
    with pytest.raises(MalformedInputError, match="no observed phenotypic feature"):
        diagnose(Patient(id="p"), kn)
    with pytest.raises(MalformedInputError, match="none of the observed HPO terms"):
        diagnose(Patient(id="p", features=(PhenotypicFeature(id="HP:9999999"),)), kn)
