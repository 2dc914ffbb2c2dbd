"""Tests of the learned phenotype combination and the variant-class genotype evidence."""

from __future__ import annotations

import numpy as np
import pytest
from test_rare import G2P, HPOA, _call, _Genes

from genoma.analyses.rare import (
    AnnotationTables,
    build_knowledge,
    collect_gene_variants,
    genotype_lr,
    parse_genes_to_phenotype,
    parse_hpoa,
    score_phenotypes,
)
from genoma.analyses.rare.genotype import CLASS_LR, GenotypeParams
from genoma.analyses.rare.phenotype import FEATURES, PhenotypeParams
from genoma.analyses.rare.variant_class import (
    VARIANT_CLASSES,
    class_from_consequence,
    class_from_hgvs,
)


@pytest.fixture(scope="module")
def kn():
    from genoma.kb import get_source

    version, diseases = parse_hpoa(HPOA)
    genes = parse_genes_to_phenotype(G2P)
    return build_knowledge(get_source("hpo").load(), AnnotationTables(version, diseases, genes))


@pytest.mark.parametrize(("c", "p", "want"), [
    ("NM_024666.5:c.174del", "NP_078942.3:p.(Asn59IlefsTer51)", "lof"),
    ("NM_000350.3:c.6088C>T", "NP_000341.2:p.(Arg2030Ter)", "lof"),
    ("NM_000350.3:c.6089G>A", "NP_000341.2:p.(Arg2030Gln)", "missense"),
    ("NM_024666.5:c.870+1G>A", "NP_078942.3:p.?", "splice"),
    ("NM_024666.5:c.871-2A>G", None, "splice"),
    ("NM_001625.4:c.330+5G>A", "NP_001616.1:p.?", "splice_region"),
    ("NM_032208.3:c.1435-120A>G", "p.?", "non_coding"),
    ("NM_020778.5:c.-10G>T", "NP_065829.4:p.?", "utr"),
    ("NM_001145128.3:c.607_615del", "p.(Glu203_Glu205del)", "inframe"),
    ("NM_001145128.3:c.607_608del", None, "lof"),
    ("NM_001145128.3:c.607_609del", None, "inframe"),
    ("NM_032360.4:c.664-18556_694+8366del", None, "lof"),
    ("NM_1.1:c.30A>G", "NP_1.1:p.(Lys10=)", "synonymous"),
    ("NM_1.1:c.2T>C", "NP_1.1:p.(Met1?)", "lof"),
    ("NM_1.1:c.61 + 1G>T", None, "unknown"),  # not HGVS: spaces are rejected, never guessed
    (None, None, "unknown"),
])
def test_class_from_hgvs(c, p, want):
    assert class_from_hgvs(c, p) == want


def test_class_from_consequence_most_severe():
    assert class_from_consequence(["intron_variant", "missense_variant&splice_region_variant"]
                                  ) == "missense"
    assert class_from_consequence(["stop_gained", "synonymous_variant"]) == "lof"
    assert class_from_consequence(["intron_variant"]) == "non_coding"
    assert class_from_consequence([]) == "unknown"
    assert set(VARIANT_CLASSES) >= {"lof", "missense", "non_coding", "unknown"}


def test_features_disease_to_patient_similarity(kn):
    """OMIM:2 (microcephaly, hearing loss, ID) is fully explained by a patient with all
    three; a patient with microcephaly alone explains only part of it."""
    r2 = kn.row_of["OMIM:2"]
    full = score_phenotypes(kn, ["HP:0000252", "HP:0000365", "HP:0001249"], params=PhenotypeParams(
        model="lr"))
    part = score_phenotypes(kn, ["HP:0000252"], params=PhenotypeParams(model="lr"))
    assert set(full.features) == set(FEATURES)
    assert full.features["explained"][r2] == pytest.approx(1.0)
    assert part.features["explained"][r2] == pytest.approx(1 / 3)
    assert full.features["resnik_dp"][r2] > part.features["resnik_dp"][r2]
    # patient → disease: microcephaly matches itself exactly in OMIM:2
    assert part.features["resnik_pd"][r2] == pytest.approx(kn.ic[kn.col["HP:0000252"]])
    # the resnik of an unrelated disease is lower
    assert part.features["resnik_pd"][kn.row_of["OMIM:3"]] < part.features["resnik_pd"][r2]
    assert np.allclose(full.log10_lr, full.features["lr"])


def test_combined_model_is_the_weighted_sum_and_can_change_the_order(kn):
    obs = ["HP:0000252", "HP:0001250"]
    lr = score_phenotypes(kn, obs, params=PhenotypeParams(model="lr"))
    w = (0.5, 1.0, 2.0, 0.0, 0.0, -0.3, 0.2, -0.1, 0.4, 1.5)
    comb = score_phenotypes(kn, obs, params=PhenotypeParams(model="combined", weights=w))
    want = sum(wi * lr.features[f] for wi, f in zip(w, FEATURES, strict=True)) / np.log(10)
    assert np.allclose(comb.log10_lr, want)
    # the per-term explanation is the LR's, whatever the model
    assert np.allclose(comb.term_log10_lr, lr.term_log10_lr)
    only_size = score_phenotypes(kn, obs, params=PhenotypeParams(
        weights=(0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0)))
    n_annot = np.exp(lr.features["log_size"])
    assert int(np.argmax(only_size.log10_lr)) == int(np.argmin(n_annot))
    with pytest.raises(ValueError):
        score_phenotypes(kn, obs, params=PhenotypeParams(weights=(1.0,)))
    with pytest.raises(ValueError):
        score_phenotypes(kn, obs, params=PhenotypeParams(model="nope"))


def test_new_features_excluded_and_information_content(kn):
    """OMIM:2 (microcephaly, hearing loss, ID): excluding one of its features shows up
    in ``excluded`` / ``excluded_shown``; ``matched_ic`` and ``explained_ic`` are shares
    in [0, 1] that grow when the patient shows more of the disease."""
    r2, r3 = kn.row_of["OMIM:2"], kn.row_of["OMIM:3"]
    lr = PhenotypeParams(model="lr")
    one = score_phenotypes(kn, ["HP:0000252"], params=lr)
    two = score_phenotypes(kn, ["HP:0000252", "HP:0000365"], params=lr)
    exc = score_phenotypes(kn, ["HP:0000252"], ["HP:0000365"], params=lr)
    assert one.features["excluded"][r2] == 0.0 and one.features["excluded_shown"][r2] == 0.0
    assert exc.features["excluded"][r2] < 0.0
    assert exc.features["excluded_shown"][r2] > 0.0
    # the excluded LR is part of the summed LR too
    assert np.allclose(exc.features["lr"] - one.features["lr"], exc.features["excluded"])
    for f in ("matched_ic", "explained_ic"):
        assert 0.0 <= one.features[f].min() and one.features[f].max() <= 1.0 + 1e-9
    assert one.features["matched_ic"][r2] == pytest.approx(1.0)
    assert two.features["explained_ic"][r2] > one.features["explained_ic"][r2]
    assert one.features["matched_ic"][r3] < 1.0


def test_default_weights_never_let_excluded_terms_help():
    w = dict(zip(FEATURES, PhenotypeParams().weights, strict=True))
    assert w["excluded"] >= 0.0 and w["excluded_shown"] <= 0.0 and w["lr"] > 0.0


def test_class_weights_per_mode_of_inheritance():
    """With per-mode weights a non-coding variant counts more under AR than under AD
    (the fitted defaults), and an empty table falls back to ``class_lr``."""
    from genoma.analyses.rare.genotype import CLASS_LR_BY_MODE

    assert CLASS_LR_BY_MODE["AR"]["non_coding"] > CLASS_LR_BY_MODE["AD"]["non_coding"]
    genes = _Genes()
    calls = [_call("chr2", 1500, (1, 1))]
    prm = GenotypeParams(rate_per_kb_annotated=0.05)
    gv = collect_gene_variants(calls, genes, classes={"chr2:1500:A:G": "non_coding"},
                               params=prm)["GENEA"]
    ad = genotype_lr(gv, "AD", "FEMALE", annotated=True, params=prm)[0]
    ar = genotype_lr(gv, "AR", "FEMALE", annotated=True, params=prm)[0]
    flat = GenotypeParams(rate_per_kb_annotated=0.05, class_lr_by_mode={})
    ad0 = genotype_lr(gv, "AD", "FEMALE", annotated=True, params=flat)[0]
    assert ar > ad
    assert ad0 == pytest.approx(ad * CLASS_LR["non_coding"] / CLASS_LR_BY_MODE["AD"][
        "non_coding"])


def test_default_combined_weights_use_more_than_the_lr():
    w = PhenotypeParams().weights
    assert len(w) == len(FEATURES) and PhenotypeParams().model == "auto"
    assert sum(1 for x in w if x != 0) >= 2


def test_auto_model_follows_the_knowledge(kn):
    obs = ["HP:0000252", "HP:0001250"]
    auto = score_phenotypes(kn, obs)
    comb = score_phenotypes(kn, obs, params=PhenotypeParams(model="combined"))
    assert kn.has_gene_links and np.allclose(auto.log10_lr, comb.log10_lr)
    assert not np.allclose(auto.log10_lr, auto.features["lr"])


def test_class_weights_order_the_genotype_evidence():
    prm = GenotypeParams(rate_per_kb_annotated=0.05,
                         class_lr={"lof": 20.0, "missense": 3.0, "non_coding": 0.01})
    key = "chr2:1500:A:G"
    lof = collect_gene_variants([_call("chr2", 1500, (0, 1))], _Genes(), classes={key: "lof"},
                                params=prm)
    intr = collect_gene_variants([_call("chr2", 1500, (0, 1))], _Genes(),
                                 classes={key: "non_coding"}, params=prm)
    assert lof["GENEA"].variants[0].variant_class == "lof"
    a = genotype_lr(lof["GENEA"], "AD", "FEMALE", annotated=True, params=prm)
    b = genotype_lr(intr["GENEA"], "AD", "FEMALE", annotated=True, params=prm)
    assert a[0] > 1 > b[0]
    assert "[lof]" in a[2]


def test_consequences_give_classes_and_frequency_filter_drops_common():
    prm = GenotypeParams(class_lr={"missense": 4.0, "non_coding": 0.02})
    calls = [_call("chr2", 1500, (0, 1)), _call("chr2", 1600, (0, 1))]
    csq = {"chr2:1500:A:G": [("GENEA", "missense_variant", "MODERATE")],
           "chr2:1600:A:G": [("GENEA", "intron_variant", "MODIFIER")]}
    gv = collect_gene_variants(calls, _Genes(), consequences=csq, params=prm)
    vs = gv["GENEA"].variants
    assert [v.variant_class for v in vs] == ["missense", "non_coding"]
    assert [v.weight for v in vs] == [4.0, 0.02]
    assert not gv["GENEA"].frequency_filtered
    f = collect_gene_variants(calls, _Genes(), consequences=csq, params=prm,
                              frequencies={"chr2:1500:A:G": 0.2})
    assert [v.variant_class for v in f["GENEA"].variants] == ["non_coding"]
    assert f["GENEA"].frequency_filtered
    # the filtered background rate is used for frequency-filtered genes
    from dataclasses import replace

    p2 = GenotypeParams(rate_per_kb_annotated=5.0, rate_per_kb_filtered=0.01)
    unfiltered = replace(f["GENEA"], frequency_filtered=False)
    lo = genotype_lr(unfiltered, "AD", "F", annotated=True, params=p2)[0]
    hi = genotype_lr(f["GENEA"], "AD", "F", annotated=True, params=p2)[0]
    assert hi > lo


def test_default_class_weights_rank_lof_over_missense_over_non_coding():
    assert CLASS_LR["lof"] > CLASS_LR["missense"] > CLASS_LR["synonymous"]
    assert CLASS_LR["missense"] > CLASS_LR["non_coding"]


def test_rows_carry_the_new_columns(kn):
    from genoma.analyses.rare import TSV_COLUMNS, diagnose
    from genoma.model.subject import Patient, PhenotypicFeature

    assert TSV_COLUMNS[:6] == ("rank", "disease_id", "disease_name", "gene_symbol", "score",
                               "variants")
    pt = Patient(id="p", sex="FEMALE", features=(PhenotypicFeature(id="HP:0001250"),
                                                 PhenotypicFeature(id="HP:0001263")))
    gv = collect_gene_variants([_call("chr2", 1500, (0, 1))], _Genes(),
                               classes={"chr2:1500:A:G": "missense"})
    res = diagnose(pt, kn, gene_variants=gv, build="GRCh38")
    top = res.rows()[0]
    assert set(TSV_COLUMNS) <= set(top)
    assert (top["disease_id"], top["gene_symbol"]) == ("OMIM:1", "GENEA")
    assert top["variant_classes"] == "missense"
    assert float(top["resnik_patient_to_disease"]) > 0
    assert float(top["phenotype_lr_only_log10"]) > 0
    assert "term likelihood ratios" in res.findings(1)[0].summary


def test_gene_lengths_and_chromosomes_from_the_table_columns():
    """The column-based shortcuts give what ``GeneTable.loci`` gives, gene by gene."""
    from genoma.analyses.rare.genotype import _gene_lengths, gene_chromosomes
    from genoma.kb.genes import gene_table

    t = gene_table("GRCh38")
    syms = sorted({str(s) for s in t.cols["symbol"].tolist()})[::40]
    lengths = _gene_lengths(t)
    chroms = gene_chromosomes(t, syms)
    for s in syms:
        loci = t.loci(s)
        assert lengths[s.upper()] == max(x.end - x.start + 1 for x in loci)
        assert chroms[s] == loci[0].chrom
    # a table without coordinate columns falls back to loci()
    genes = _Genes()
    assert gene_chromosomes(genes, ["GENEX", "NOPE"]) == {"GENEX": "chrX"}
