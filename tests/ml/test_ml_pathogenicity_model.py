"""The shipped pathogenicity model: loads, verifies, predicts deterministically, and keeps its
measured accuracy on genes it was never trained on (validation on ../shared)."""

from __future__ import annotations

import numpy as np
import pytest

from genoma.ml import pathogenicity as pm

from conftest import require_shared

CASES = [
    ("NM_000350.3:c.6088C>T", "NP_000341.2:p.(Arg2030Ter)"),
    ("NM_024666.5:c.870+1G>A", "NP_078942.3:p.?"),
    ("NM_024666.5:c.174del", "NP_078942.3:p.(Asn59IlefsTer51)"),
    ("ENST00000400588.1:c.15G>A", "ENSP00000383431:p.Leu5%3D"),
    ("ENST00000400588.1:c.*46C>A", None),
    ("c.34C>T", "p.Arg12Trp"),
    ("c.34C>T", None),  # unscorable: coding substitution without p.
]


@pytest.fixture(scope="module")
def model() -> pm.PathogenicityModel:
    return pm.load_model()


def test_shipped_model_loads_and_is_deterministic(model):
    assert model.metadata["name"] == "pathogenicity_v1"
    assert model.metadata["holdout_auroc"] is not None
    a = pm.predict_variants(CASES, model=model)
    b = pm.predict_variants(CASES, model=pm.load_model())
    assert [p.score for p in a] == [p.score for p in b]
    scored = [p for p in a if p.score is not None]
    assert len(scored) == 6 and all(0.0 <= p.score <= 1.0 for p in scored)
    assert a[-1].score is None and "p." in a[-1].reason
    assert [p.variant_class for p in a[:5]] == [
        "stop_gained",
        "splice_donor",
        "frameshift",
        "synonymous",
        "utr3",
    ]


def test_shipped_model_explanations_add_up(model):
    preds = pm.predict_variants(CASES[:3], model=model, explain=True, top=len(pm.FEATURES))
    X, _, _ = pm.feature_matrix([c for c, _ in CASES[:3]], [p for _, p in CASES[:3]])
    vals, base = model.explain(X)
    for pred, row in zip(preds, vals, strict=True):
        assert pred.margin == pytest.approx(base + row.sum(), abs=1e-6)
        assert sum(c for _, _, c in pred.contributions) == pytest.approx(row.sum(), abs=1e-6)


@pytest.mark.validation
def test_shipped_model_on_held_out_genes(model):
    from sklearn.metrics import roc_auc_score

    from genoma.ml.training_data import holdout_genes, load_training_table

    data = require_shared("rare", "cases-dev.jsonl.gz").parents[1]
    table = load_training_table(data)
    X, _classes, reasons = pm.feature_matrix(table["hgvs_c"].tolist(), table["hgvs_p"].tolist())
    ok = np.array([r is None for r in reasons])
    table, X = table[ok].reset_index(drop=True), X[ok]
    hold = holdout_genes(set(table.loc[table.label == 0, "gene"]), set(table["gene"]))
    # the held-out genes are the ones the training script kept out (same data, same rule)
    assert sorted(hold & set(table["gene"])) == model.metadata["holdout_genes"]
    m = table["gene"].isin(hold).to_numpy()
    y = table["label"].to_numpy()[m]
    assert 0 < y.sum() < len(y)
    auroc = roc_auc_score(y, model.predict_proba(X[m]))
    assert auroc >= model.metadata["holdout_auroc"] - 0.02
