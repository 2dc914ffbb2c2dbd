"""CPIC recommendations and their traffic-light color (genoma.analyses.pgx.recommend)."""

from __future__ import annotations

import pandas as pd
import pytest

from genoma.analyses.pgx.recommend import (
    NO_RECOMMENDATION,
    RECOMMENDATION_COLUMNS,
    classify_recommendation,
    compile_rules,
    recommend,
    recommendation_color,
)
from genoma.kb import get_source
from genoma.model.findings import Color


@pytest.fixture(scope="module")
def knowledge():
    return get_source("pgx").load()


@pytest.fixture(scope="module")
def table(knowledge):
    r = knowledge.recommendations.copy()
    res = r["Recommendation"].map(classify_recommendation)
    r["color"] = res.map(lambda x: x[0])
    r["step"] = res.map(lambda x: x[1])
    return r


def _text(knowledge, drug, p1, p2=None):
    r = knowledge.recommendations
    m = (r["Drug"] == drug) & (r["Phenotype1"] == p1)
    m &= r["Phenotype2"].isna() if p2 is None else (r["Phenotype2"] == p2)
    (txt,) = r.loc[m, "Recommendation"]
    return txt


def test_two_gene_rules_in_the_table(knowledge):
    rules = {r.drug: r.genes for r in compile_rules(knowledge)}
    pairs = {g for g in rules.values() if len(g) == 2}
    assert pairs == {("NUDT15", "TPMT"), ("CYP2C19", "CYP2D6"), ("CYP2C9", "SLCO1B1"),
                     ("ABCG2", "SLCO1B1"), ("CACNA1S", "RYR1")}
    assert rules["azathioprine"] == ("NUDT15", "TPMT")
    assert rules["amitriptyline"] == ("CYP2C19", "CYP2D6")
    assert rules["fluvastatin"] == ("CYP2C9", "SLCO1B1")
    assert rules["sevoflurane"] == ("CACNA1S", "RYR1")
    # CYP2C9 + HLA-B phenytoin has no rows in the pypgx 0.27 recommendation table
    assert "phenytoin" not in rules


def test_every_table_text_is_classified_by_an_explicit_rule(table):
    steps = set(table["step"])
    assert "unclassified" not in steps
    assert table.loc[table["Recommendation"].isna(), "color"].eq(Color.GREY).all()


def test_normal_phenotypes_are_green_except_known(table):
    single = table[table["Gene2"].isna()]
    normal = single[single["Phenotype1"].isin(["Normal Metabolizer", "Normal Function",
                                               "Favorable Response"])]
    not_green = set(normal.loc[normal["color"] != Color.GREEN, "Drug"])
    # tacrolimus: CYP3A5 normal metabolizers need a higher dose (CPIC);
    # F5 normal: the guideline gives no recommendation
    assert not_green == {"tacrolimus", "hormonal contraceptives for systemic use"}


def test_poor_metabolizers_are_never_green_except_known(table):
    single = table[table["Gene2"].isna() & (table["Phenotype1"] == "Poor Metabolizer")]
    green = set(single.loc[single["color"] == Color.GREEN, "Drug"])
    # CYP3A5 poor metabolizer is the usual (expresser-less) tacrolimus dosing;
    # hydrocodone: label dosing for CYP2D6 PM (CPIC optional); the 5-HT3 antagonists:
    # "insufficient evidence … initiate therapy with recommended starting dose"
    assert green == {"tacrolimus", "hydrocodone", "ondansetron", "tropisetron"}


@pytest.mark.parametrize(
    ("drug", "p1", "p2", "color"),
    [
        ("codeine", "Poor Metabolizer", None, Color.RED),
        ("codeine", "Ultrarapid Metabolizer", None, Color.RED),
        ("codeine", "Normal Metabolizer", None, Color.GREEN),
        ("tacrolimus", "Normal Metabolizer", None, Color.YELLOW),
        ("tacrolimus", "Poor Metabolizer", None, Color.GREEN),
        ("tamoxifen", "Normal Metabolizer", None, Color.GREEN),  # co-medication advice
        ("tamoxifen", "Poor Metabolizer", None, Color.RED),
        ("ivacaftor", "Unfavorable Response", None, Color.RED),
        ("hydrocodone", "Ultrarapid Metabolizer", None, Color.GREY),
        ("capecitabine", "Poor Metabolizer", None, Color.RED),
        ("capecitabine", "Intermediate Metabolizer", None, Color.YELLOW),
        ("celecoxib", "Poor Metabolizer", None, Color.YELLOW),
        ("atazanavir", "Normal Metabolizer", None, Color.GREEN),
        ("peginterferon alfa-2a", "Favorable Response", None, Color.GREEN),
        ("peginterferon alfa-2a", "Unfavorable Response", None, Color.YELLOW),
        ("atomoxetine", "Normal Metabolizer", None, Color.GREEN),
        ("atomoxetine", "Poor Metabolizer", None, Color.YELLOW),
        ("azathioprine", "Normal Metabolizer", "Normal Metabolizer", Color.GREEN),
        ("azathioprine", "Normal Metabolizer", "Possible Intermediate Metabolizer",
         Color.YELLOW),
        ("amitriptyline", "Normal Metabolizer", "Poor Metabolizer", Color.RED),
        ("amitriptyline", "Normal Metabolizer", "Intermediate Metabolizer", Color.YELLOW),
        ("sevoflurane", "Uncertain Susceptibility", "Malignant Hyperthermia Susceptibility",
         Color.RED),
        ("sevoflurane", "Uncertain Susceptibility", "Uncertain Susceptibility", Color.GREEN),
        ("fluvastatin", "Normal Metabolizer", "Poor Function", Color.YELLOW),
        ("simvastatin", "Poor Function", None, Color.RED),
    ],
)
def test_colors_of_table_rows(knowledge, drug, p1, p2, color):
    assert recommendation_color(_text(knowledge, drug, p1, p2)) == color


def test_color_rules_on_plain_texts():
    assert recommendation_color(None) == Color.GREY
    assert recommendation_color(float("nan")) == Color.GREY
    assert recommendation_color("  ") == Color.GREY
    assert recommendation_color("Avoid drug X.") == Color.RED
    assert recommendation_color("Drug X is contraindicated.") == Color.RED
    assert recommendation_color("Initiate therapy with recommended starting dose.") == Color.GREEN
    assert recommendation_color("Reduce starting dose by 50%.") == Color.YELLOW
    assert recommendation_color("Start with reduced doses (50% of normal dose).") == Color.YELLOW
    assert classify_recommendation("Lorem ipsum.") == (Color.GREY, "unclassified")


def _phen(rows):
    return pd.DataFrame(rows, columns=["sample", "gene", "phenotype"])


def test_recommend_two_gene_thiopurines(knowledge):
    ph = _phen([("S1", "TPMT", "Poor Metabolizer"), ("S1", "NUDT15", "Normal Metabolizer"),
                ("S2", "TPMT", "Normal Metabolizer"), ("S2", "NUDT15", "Normal Metabolizer")])
    rec = recommend(ph, knowledge)
    assert list(rec.columns) == RECOMMENDATION_COLUMNS
    aza = rec[rec["drug"] == "azathioprine"].set_index("sample")
    assert aza.loc["S1", "recommendation"] == _text(knowledge, "azathioprine",
                                                    "Normal Metabolizer", "Poor Metabolizer")
    assert aza.loc["S1", "color"] == "yellow"
    assert aza.loc["S2", "color"] == "green"
    assert aza.loc["S1", "genes"] == "NUDT15+TPMT"
    assert aza.loc["S1", "phenotypes"] == "NUDT15: Normal Metabolizer; TPMT: Poor Metabolizer"
    assert aza.loc["S1", "classification"] == "CPIC level A"
    assert aza.loc["S1", "guideline"].startswith("https://cpicpgx.org/")
    assert aza.loc["S1", "source"] == "pgx"
    assert aza.loc["S1", "knowledge_version"] == knowledge.version
    # only the drugs of the analysed genes
    assert set(rec["drug"]) == {"azathioprine", "mercaptopurine", "thioguanine"}


def test_recommend_gene_not_tested_uses_the_single_gene_rows(knowledge):
    rec = recommend(_phen([("S1", "TPMT", "Poor Metabolizer")]), knowledge)
    aza = rec[rec["drug"] == "azathioprine"].iloc[0]
    r = knowledge.recommendations
    m = (r["Drug"] == "azathioprine") & r["Phenotype1"].isna() & (
        r["Phenotype2"] == "Poor Metabolizer")
    assert aza["recommendation"] == r.loc[m, "Recommendation"].iloc[0]
    assert "NUDT15: not tested" in aza["phenotypes"]


def test_recommend_tricyclics_two_genes(knowledge):
    rec = recommend(_phen([("S1", "CYP2C19", "Normal Metabolizer"),
                           ("S1", "CYP2D6", "Poor Metabolizer")]), knowledge)
    ami = rec[rec["drug"] == "amitriptyline"].iloc[0]
    assert ami["genes"] == "CYP2C19+CYP2D6"
    assert ami["color"] == "red"
    assert ami["recommendation"] == _text(knowledge, "amitriptyline", "Normal Metabolizer",
                                          "Poor Metabolizer")
    # codeine depends on CYP2D6 only
    assert rec.loc[rec["drug"] == "codeine", "color"].iloc[0] == "red"


def test_recommend_phenotype_without_row_is_grey(knowledge):
    rec = recommend(_phen([("S1", "DPYD", "Indeterminate")]), knowledge)
    assert set(rec["drug"]) == {"capecitabine", "fluorouracil"}
    assert (rec["color"] == "grey").all()
    assert (rec["recommendation"] == NO_RECOMMENDATION).all()


def test_recommend_mixed_levels_classification(knowledge):
    rec = recommend(_phen([("S1", "CYP2C19", "Normal Metabolizer"),
                           ("S1", "CYP2D6", "Normal Metabolizer")]), knowledge)
    cpic = knowledge.cpic
    for drug, genes, cls in zip(rec["drug"], rec["genes"], rec["classification"],
                                strict=True):
        sub = cpic[cpic["Drug"] == drug].set_index("Gene")
        levels = [sub.loc[g, "CPICLevel"] for g in genes.split("+")]
        if len(set(levels)) == 1:
            assert cls == f"CPIC level {levels[0]}"
        else:
            raise AssertionError(f"{drug}: mixed levels {levels} in the shipped table")
    assert set(rec["drug"]) >= {"codeine", "clopidogrel", "amitriptyline"}


def test_mixed_levels_name_each_gene(knowledge):
    import dataclasses

    cpic = knowledge.cpic.copy()
    m = (cpic["Drug"] == "amitriptyline") & (cpic["Gene"] == "CYP2D6")
    cpic.loc[m, "CPICLevel"] = "B"
    rules = {r.drug: r for r in compile_rules(dataclasses.replace(knowledge, cpic=cpic))}
    assert rules["amitriptyline"].classification == "CPIC level A (CYP2C19), B (CYP2D6)"
