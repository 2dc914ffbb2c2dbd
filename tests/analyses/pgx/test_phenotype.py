"""Diplotype → phenotype / activity score (genoma.analyses.pgx.phenotype)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from genoma.analyses.pgx.phenotype import (
    INDETERMINATE,
    NOT_APPLICABLE,
    Phenotyper,
    split_diplotype,
)
from genoma.errors import KnowledgeError
from genoma.kb import get_source


@pytest.fixture(scope="module")
def knowledge():
    return get_source("pgx").load()


@pytest.fixture(scope="module")
def ph(knowledge):
    return Phenotyper(knowledge)


@pytest.mark.parametrize(
    ("gene", "a", "b", "phenotype", "score"),
    [
        ("CYP2C9", "*1", "*1", "Normal Metabolizer", 2.0),
        ("CYP2C9", "*1", "*2", "Intermediate Metabolizer", 1.5),
        ("CYP2C9", "*1", "*3", "Intermediate Metabolizer", 1.0),
        ("CYP2C9", "*2", "*3", "Poor Metabolizer", 0.5),
        ("CYP2C9", "*3", "*3", "Poor Metabolizer", 0.0),
        ("CYP2D6", "*1", "*1", "Normal Metabolizer", 2.0),
        ("CYP2D6", "*4", "*4", "Poor Metabolizer", 0.0),
        ("CYP2D6", "*4", "*10", "Intermediate Metabolizer", 0.25),
        ("CYP2D6", "*1", "*4", "Intermediate Metabolizer", 1.0),
        ("CYP2D6", "*1", "*10", "Normal Metabolizer", 1.25),
        ("CYP2D6", "*1", "*1x2", "Ultrarapid Metabolizer", 3.0),
        ("CYP2D6", "*4x2", "*1", "Intermediate Metabolizer", 1.0),
        ("CYP2D6", "*1", "*36+*10", "Normal Metabolizer", 1.25),
        # DPYD names contain '+': read as one allele, not a tandem
        ("DPYD", "Reference", "c.1905+1G>A (*2A)", "Intermediate Metabolizer", 1.0),
        ("DPYD", "c.1905+1G>A (*2A)", "c.1905+1G>A (*2A)", "Poor Metabolizer", 0.0),
    ],
)
def test_activity_score_genes(ph, gene, a, b, phenotype, score):
    call = ph.phenotype(gene, a, b)
    assert call.phenotype == phenotype
    assert call.activity_score == pytest.approx(score)
    # the order of the alleles does not matter
    assert ph.phenotype(gene, b, a) == call


def test_uncertain_function_allele_is_indeterminate(ph):
    call = ph.phenotype("CYP2D6", "*1", "*22")  # *22: uncertain function, no value
    assert call.phenotype == INDETERMINATE
    assert call.activity_score is None
    assert "*22" in call.notes[0]


def test_unknown_allele_is_indeterminate(ph):
    for gene in ("CYP2C9", "CYP2C19"):
        call = ph.phenotype(gene, "*1", "*999")
        assert call.phenotype == INDETERMINATE
        assert any("*999" in n for n in call.notes)


def test_score_bins_match_the_knowledge_equations(ph, knowledge):
    """The bins parsed without eval agree with the equation strings evaluated."""
    eq = knowledge.equations
    grid = np.arange(0, 4.01, 0.25)
    for gene in sorted(set(eq["Gene"])):
        got = ph.gene(gene).phenotype_of_scores(grid)
        sub = eq[eq["Gene"] == gene]
        for x, g in zip(grid, got, strict=True):
            hits = [p for p, e in zip(sub["Phenotype"], sub["Equation"], strict=True)
                    if eval(e, {}, {"score": float(x)})]  # test oracle: pypgx evaluates these strings
            assert g == (hits[0] if hits else INDETERMINATE), (gene, x)
    assert ph.gene("CYP2D6").phenotype_of_scores(np.array([np.nan]))[0] == INDETERMINATE


def test_cpic_cyp2d6_thresholds(ph):
    # CPIC/DPWG 2020: PM 0, IM 0.25-1, NM 1.25-2.25, UM > 2.25
    f = ph.gene("CYP2D6").phenotype_of_scores
    assert list(f(np.array([0, 0.25, 1.0, 1.25, 2.25, 2.5, 6]))) == [
        "Poor Metabolizer", "Intermediate Metabolizer", "Intermediate Metabolizer",
        "Normal Metabolizer", "Normal Metabolizer", "Ultrarapid Metabolizer",
        "Ultrarapid Metabolizer"]


@pytest.mark.parametrize(
    ("gene", "a", "b", "phenotype"),
    [
        ("CYP2C19", "*1", "*1", "Normal Metabolizer"),
        ("CYP2C19", "*2", "*1", "Intermediate Metabolizer"),
        ("CYP2C19", "*2", "*2", "Poor Metabolizer"),
        ("CYP2C19", "*17", "*1", "Rapid Metabolizer"),
        ("CYP2C19", "*17", "*17", "Ultrarapid Metabolizer"),
        ("TPMT", "*1", "*3A", "Intermediate Metabolizer"),
        ("TPMT", "*3A", "*3A", "Poor Metabolizer"),
        ("NUDT15", "*3", "*3", "Poor Metabolizer"),
        ("SLCO1B1", "*5", "*5", "Poor Function"),
    ],
)
def test_diplotype_table_genes(ph, gene, a, b, phenotype):
    assert ph.phenotype(gene, a, b).phenotype == phenotype
    assert ph.phenotype(gene, b, a).phenotype == phenotype
    assert ph.phenotype(gene, a, b).activity_score is None


def test_sub_allele_uses_its_core(ph):
    assert ph.phenotype("CYP2C19", "*1.001", "*2").phenotype == "Intermediate Metabolizer"
    assert ph.gene("CYP2C19").is_known_allele("*2.002")
    assert not ph.gene("CYP2C19").is_known_allele("*999.001")


def test_single_allele_calls(ph):
    # G6PD hemizygous: the table's A/MALE entry
    assert ph.phenotype("G6PD", "A- 202A_376G", None).phenotype == "G6PD Deficient"


def test_gene_without_phenotype_method(ph):
    assert ph.phenotype("CYP4F2", "*1", "*3").phenotype == NOT_APPLICABLE


def test_resolve_agreeing_candidates(ph):
    call = ph.resolve("CYP2C19", ["*1/*2", "*1/*3"])
    assert call.phenotype == "Intermediate Metabolizer"
    assert call.candidate_phenotypes == {"*1/*2": "Intermediate Metabolizer",
                                         "*1/*3": "Intermediate Metabolizer"}


def test_resolve_disagreeing_candidates(ph):
    call = ph.resolve("CYP2C9", ["*1/*3", "*1/*1"])
    assert call.phenotype == INDETERMINATE
    assert call.activity_score is None
    assert call.candidate_phenotypes["*1/*1"] == "Normal Metabolizer"
    assert call.candidate_phenotypes["*1/*3"] == "Intermediate Metabolizer"
    assert "differ" in call.notes[0]


def test_resolve_same_phenotype_different_scores(ph):
    call = ph.resolve("CYP2D6", ["*1/*10", "*1/*1"])  # 1.25 and 2.0: both NM
    assert call.phenotype == "Normal Metabolizer"
    assert call.activity_score is None
    assert any("activity score differs" in n for n in call.notes)


def test_arrays_agree_with_scalar(ph):
    a1 = ["*1", "*1", "*2", None, "*3", "*1"]
    a2 = ["*1", "*3", "*3", None, "*3", "*999"]
    phen, score = ph.gene("CYP2C9").phenotype_arrays(a1, a2)
    for i, (x, y) in enumerate(zip(a1, a2, strict=True)):
        if x is None:
            assert phen[i] == INDETERMINATE and math.isnan(score[i])
            continue
        c = ph.phenotype("CYP2C9", x, y)
        assert phen[i] == c.phenotype
        if c.activity_score is None:
            assert math.isnan(score[i])
        else:
            assert score[i] == c.activity_score


def test_split_diplotype():
    assert split_diplotype("*1/*2") == ("*1", "*2")
    assert split_diplotype("m.1555A>G") == ("m.1555A>G", None)


def test_unparseable_equation_is_a_knowledge_error(knowledge):
    import dataclasses

    bad = knowledge.equations.copy()
    bad.loc[bad["Gene"] == "CYP2C9", "Equation"] = "score ~ 2"
    k2 = dataclasses.replace(knowledge, equations=bad)
    with pytest.raises(KnowledgeError):
        Phenotyper(k2).gene("CYP2C9")


def test_agrees_with_pypgx_predict_phenotype(ph, knowledge):
    """Peer check: pypgx's own translation for a sample of diplotypes per gene."""
    pypgx = pytest.importorskip("pypgx")
    rng = np.random.default_rng(0)
    checked = 0
    for gene in ("CYP2C9", "CYP2D6", "CYP2C19", "TPMT", "NUDT15", "DPYD"):
        names = list(knowledge.alleles.loc[knowledge.alleles["Gene"] == gene, "StarAllele"])
        for _ in range(6):
            a, b = rng.choice(names, 2)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = pypgx.predict_phenotype(gene, str(a), str(b))
            assert ph.phenotype(gene, str(a), str(b)).phenotype == want, (gene, a, b)
            checked += 1
    assert checked == 36


_ABBREV = {"Normal Metabolizer": "nm", "Intermediate Metabolizer": "im",
           "Poor Metabolizer": "pm", "Rapid Metabolizer": "rm",
           "Ultrarapid Metabolizer": "um", "Likely Intermediate Metabolizer": "likely im",
           "Likely Poor Metabolizer": "likely pm", "Indeterminate": "indeterminate"}


@pytest.mark.validation
@pytest.mark.parametrize("gene", ["CYP2C19", "CYP2C9"])
def test_getrm_consensus_phenotypes(ph, gene):
    """GeT-RM 2022: our phenotype of each NGS consensus diplotype = its consensus phenotype.

    Normalisation: the table abbreviates (NM, IM …) and once writes "likley".
    """
    import pandas as pd

    from conftest import require_shared

    path = require_shared("pgx", "getrm", f"getrm_{gene}_Gaedigk2022_datasummary.tsv")
    t = pd.read_csv(path, sep="\t")
    dcol = next(c for c in t.columns if c.startswith("NGS NGS consensus calls red"))
    pcol = next(c for c in t.columns if c.startswith("NGS NGS consensus phenotype"))
    n = 0
    for d, p in zip(t[dcol].astype(str), t[pcol].astype(str), strict=True):
        d, p = d.strip(), p.strip().lower().replace("likley", "likely")
        if "/" not in d or " or " in d:
            continue
        got = ph.phenotype_of_diplotype(gene, d).phenotype
        assert _ABBREV.get(got, got.lower()) == p, (d, p, got)
        n += 1
    assert n >= 130


def test_dpyd_variants_in_cis_take_the_lowest_activity() -> None:
    """DPYD haplotypes named A+B (variants in cis) score as their lowest-function part."""
    from genoma.analyses.pgx.phenotype import Phenotyper
    from genoma.kb import get_source

    kb = get_source("pgx").load()
    ph = Phenotyper(kb)
    g = ph.gene("DPYD")
    scores = {a: v for a, v in g.allele_scores.items() if v == v}
    normal = next(a for a, v in scores.items() if v == 1.0 and a != "Reference")
    nofunc = next(a for a, v in scores.items() if v == 0.0)
    assert g.allele_score(f"{normal}+{nofunc}") == 0.0
    assert g.allele_score(f"{normal}+Reference") == 1.0
    call = ph.phenotype("DPYD", f"{normal}+{normal}", "Reference")
    assert call.activity_score == 2.0
    # CYP2D6 tandem / copy-number names still add up
    assert ph.gene("CYP2D6").allele_score("*1x2") == 2.0
