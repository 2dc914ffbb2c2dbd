"""Pathogenicity features on hand cases, calibration metrics, model save/load/verify."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genoma.errors import KnowledgeError
from genoma.ml import pathogenicity as pm
from genoma.ml.aaprops import blosum62, grantham


def test_missense_features():
    cls, f = pm.variant_features("NM_000001.1:c.34C>T", "NP_000001.1:p.(Arg12Trp)")
    assert cls == "missense"
    assert f["class_missense"] == 1 and f["lof"] == 0
    assert f["blosum62"] == -3  # BLOSUM62 R/W
    assert round(f["grantham"]) == 101  # Grantham (1974) R/W
    assert f["delta_charge"] == -1
    assert f["delta_volume"] == pytest.approx(227.8 - 173.4)
    assert f["protein_position"] == 12 and f["edit_sub"] == 1 and f["net_length"] == 0
    assert math.isnan(f["splice_distance"]) and f["intron_side"] == 0
    assert f["ref_trp"] == 0 and f["alt_aromatic"] == 1


def test_aa_tables():
    assert blosum62("C", "C") == 9 and blosum62("W", "W") == 11 and blosum62("A", "*") == -4
    assert all(
        blosum62(a, b) == blosum62(b, a)
        for a in "ARNDCQEGHILKMFPSTWYV"
        for b in "ARNDCQEGHILKMFPSTWYV"
    )
    # published Grantham (1974) matrix values (rounded integers)
    for a, b, d in [
        ("L", "I", 5),
        ("C", "W", 215),
        ("R", "K", 26),
        ("D", "E", 45),
        ("S", "R", 110),
    ]:
        assert abs(grantham(a, b) - d) <= 1


def test_bio_blosum62_matches_if_available():
    sm = pytest.importorskip("Bio.Align.substitution_matrices")
    m = sm.load("BLOSUM62")
    aa = "ARNDCQEGHILKMFPSTWYV*"
    assert all(blosum62(a, b) == m[a][b] for a in aa for b in aa)


@pytest.mark.parametrize(
    ("c", "p", "cls", "checks"),
    [
        ("c.870+1G>A", "p.?", "splice_donor", {"splice_distance": 1, "intron_side": 1, "lof": 1}),
        (
            "c.871-2A>G",
            None,
            "splice_acceptor",
            {"splice_distance": 2, "intron_side": -1, "lof": 1},
        ),
        (
            "c.2126-7_2126-3delACCAT",
            None,
            "splice_region",
            {"splice_distance": 3, "deleted_length": 5},
        ),
        ("c.100+5_101-5del", None, "splice_region", {"splice_distance": 5}),
        ("c.100_100+3del", None, "splice_donor", {"splice_distance": 0}),
        ("c.100-30A>G", None, "intron", {"splice_distance": 30}),
        (
            "c.174del",
            "p.(Asn59IlefsTer51)",
            "frameshift",
            {
                "net_length": -1,
                "frame_preserving": 0,
                "fs_new_stop": 51,
                "protein_position": 59,
                "lof": 1,
            },
        ),
        ("c.174_175insAGT", None, "inframe_insertion", {"net_length": 3, "frame_preserving": 1}),
        ("c.174del", None, "frameshift", {"protein_position": 58}),
        ("c.6088C>T", "p.(Arg2030Ter)", "stop_gained", {"lof": 1, "blosum62": -4}),
        ("c.6088C>T", "p.Arg2030*", "stop_gained", {"lof": 1}),
        ("c.2T>G", None, "start_lost", {"lof": 1}),
        ("c.2T>G", "p.Met1?", "start_lost", {}),
        ("c.*46C>A", None, "utr3", {"utr_distance": 46}),
        ("c.-12G>A", None, "utr5", {"utr_distance": 12}),
        ("c.15G>A", "p.Leu5%3D", "synonymous", {"protein_position": 5}),
        ("c.15G>A", "p.(=)", "synonymous", {}),
        (
            "c.1017_1019del",
            "p.Phe340del",
            "inframe_deletion",
            {"aa_changed": 1, "deleted_length": 3},
        ),
        ("c.1017_1019delinsTAA", "p.Phe340delinsTer", "stop_gained", {}),
        ("c.1017A>G", "p.Ter339TrpextTer23", "stop_lost", {"ext_length": 23}),
        ("n.946del", None, "noncoding_exon", {}),
    ],
)
def test_classes(c, p, cls, checks):
    got, f = pm.variant_features(c, p)
    assert got == cls
    assert f[f"class_{cls}"] == 1 and sum(f[f"class_{k}"] for k in pm.VARIANT_CLASSES) == 1
    for k, v in checks.items():
        assert f[k] == v, k


@pytest.mark.parametrize(
    ("c", "p", "why"),
    [
        ("c.100-60A>G", None, "intronic"),
        ("c.6088C>T", None, "without a p."),
    ],
)
def test_out_of_scope(c, p, why):
    with pytest.raises(ValueError, match=why):
        pm.variant_features(c, p)


def test_protein_only_substitution_is_scored_as_snv():
    X, classes, reasons = pm.feature_matrix([None, None], ["p.Arg12Trp", "p.Val7del"])
    assert classes == ["missense", None] and reasons[0] is None and "p. alone" in reasons[1]
    Xc, _, _ = pm.feature_matrix(["c.34C>T"], ["p.Arg12Trp"])
    assert np.array_equal(X[0], Xc[0], equal_nan=True)  # same features as with its c.


def test_feature_matrix_never_raises():
    X, classes, reasons = pm.feature_matrix(
        ["c.34C>T", "c.34 C>T", None, "c.100-900A>G"], ["p.Arg12Trp", None, None, None]
    )
    assert X.shape == (4, len(pm.FEATURES))
    assert classes == ["missense", None, None, None]
    assert reasons[0] is None and "parser" in reasons[1] and reasons[2] and "intronic" in reasons[3]
    assert np.isnan(X[1]).all()


def test_ece_and_reliability():
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)  # calibrated by construction
    assert pm.expected_calibration_error(y, p) < 0.02
    assert pm.expected_calibration_error(y, np.clip(p + 0.3, 0, 1)) > 0.15
    rel = pm.reliability_table(y, p)
    assert len(rel) == 10 and sum(r["n"] for r in rel) == 20000
    assert all(abs(r["observed"] - r["mean_predicted"]) < 0.05 for r in rel)


def _toy_training():
    """A small synthetic training set: LoF and damaging missense labelled 1, others 0."""
    rng = np.random.default_rng(1)
    aas = ["Ala", "Arg", "Cys", "Gly", "Leu", "Pro", "Trp", "Ser", "Asp", "Lys"]
    cs, ps, y, genes = [], [], [], []
    for i in range(300):
        gene = f"G{i % 30}"
        pos = int(rng.integers(2, 800))
        kind = rng.integers(0, 4)
        if kind == 0:
            cs.append(f"c.{pos * 3}C>T")
            ps.append(f"p.Arg{pos}Ter")
            y.append(1)
        elif kind == 1:
            cs.append(f"c.{pos * 3}C>T")
            ps.append(f"p.Leu{pos}=")
            y.append(0)
        else:
            a, b = rng.choice(aas, 2, replace=False)
            cs.append(f"c.{pos * 3 - 1}G>A")
            ps.append(f"p.{a}{pos}{b}")
            y.append(int(grantham(_one(a), _one(b)) > 100))
        genes.append(gene)
    X, classes, reasons = pm.feature_matrix(cs, ps)
    assert all(r is None for r in reasons)
    return X, np.array(y), np.array(genes), classes


def _one(a3: str) -> str:
    from genoma.ml.hgvs_grammar import AA3_TO_1

    return AA3_TO_1[a3]


def test_fit_cross_validate_save_load(tmp_path):
    X, y, g, classes = _toy_training()
    cv = pm.cross_validate(X, y, g, classes, n_splits=3, params={"max_iter": 15})
    assert cv["overall"]["auroc"] > 0.9  # the labels are a function of the features
    assert len(cv["folds"]) == 3 and set(cv["calibration"]) == {"isotonic", "platt"}
    model = pm.fit_model(X, y, g, params={"max_iter": 15})
    side = pm.save_model(model, X[:10], name="toy", directory=tmp_path)
    loaded = pm.load_model("toy", tmp_path)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    preds = pm.predict_variants(
        [("c.30C>T", "p.Arg10Ter"), {"HGVSc": "c.30C>T", "HGVSp": "p.Leu10="}, ("c.9 9del", None)],
        model=loaded,
        explain=True,
        top=3,
    )
    assert (
        preds[0].score is not None
        and preds[1].score is not None
        and preds[0].score > preds[1].score
    )
    assert preds[2].score is None and preds[2].reason
    assert len(preds[0].contributions) == 3
    # explanations add up to the margin
    vals, base = loaded.explain(X[:5])
    assert np.allclose(vals.sum(axis=1) + base, loaded.margin(X[:5]), atol=1e-6)
    # a tampered model file is refused
    blob = tmp_path / "toy.joblib"
    blob.write_bytes(blob.read_bytes() + b"x")
    with pytest.raises(KnowledgeError, match="checksum"):
        pm.load_model("toy", tmp_path)
    assert side.exists()


def test_missing_model_is_knowledge_error(tmp_path):
    with pytest.raises(KnowledgeError) as exc:
        pm.load_model("nope", tmp_path)
    assert exc.value.exit_code == 6


def test_odds_path_and_evidence():
    assert pm.odds_path(0.5, 0.5) == pytest.approx(1.0)
    assert pm.odds_path(0.8, 0.5) == pytest.approx(4.0)
    assert pm.odds_path(0.5, 0.8) == pytest.approx(0.25)
    assert pm.odds_path(1.0, 0.5) == pytest.approx(999.0)  # clipped, finite
    assert pm.computational_evidence(2.08) == "PP3"
    assert pm.computational_evidence(1 / 2.08) == "BP4"
    assert pm.computational_evidence(1.5) is None and pm.computational_evidence(None) is None
