"""Warfarin dosing: IWPC formulas, VKORC1 imputation, the shipped model, reader and CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from genoma.analyses.pgx import warfarin as W
from genoma.cli.pgx_warfarin import warfarin as warfarin_cmd
from genoma.errors import MalformedInputError
from genoma.io.iwpc import normalise_genotype, read_iwpc_table
from genoma.model.subject import Measurement, Medication, Patient

from conftest import require_shared

HEADER = [
    "PharmGKB Subject ID", "Gender", "Race", "Age", "Height (cm)", "Weight (kg)",
    "Indication for Warfarin Treatment", "Amiodarone (Cordarone)",
    "Carbamazepine (Tegretol)", "Phenytoin (Dilantin)", "Rifampin or Rifampicin",
    "Therapeutic Dose of Warfarin", "Subject Reached Stable Dose of Warfarin",
    "CYP2C9 consensus", "VKORC1 -1639 consensus", "VKORC1 1173 consensus",
    "VKORC1 2255 consensus", "VKORC1 1542 consensus",
]
# Three patients written by hand; expected doses below come from the published
# coefficients (IWPC, NEJM 2009, supplementary appendix).
ROWS = [
    ["PA1", "male", "White", "60 - 69", "170", "80", "3", "0", "0", "0", "", "35", "1",
     "*1/*1", "A/G", "", "", ""],
    ["PA2", "female", "Asian", "70 - 79", "160", "60", "4", "1", "", "", "", "10", "1",
     "*1/*3", "A/A", "", "", ""],
    ["PA3", "male", "Black or African American", "50 - 59", "180", "100", "", "0", "1",
     "0", "0", "40", "1", "*2/*3", "", "", "T/T", "C/C"],
]
EXPECTED_IWPC = [
    (5.6044 - 0.2614 * 6 + 0.0087 * 170 + 0.0128 * 80 - 0.8677) ** 2,
    (5.6044 - 0.2614 * 7 + 0.0087 * 160 + 0.0128 * 60 - 1.6974 - 0.9357 - 0.1092
     - 0.5503) ** 2,
    # VKORC1 unknown: the 2255/1542 proxies are not used for Black patients.
    (5.6044 - 0.2614 * 5 + 0.0087 * 180 + 0.0128 * 100 - 0.4854 - 1.9206 - 0.2760
     + 1.1816) ** 2,
]
EXPECTED_CLINICAL_PA1 = (4.0376 - 0.2546 * 6 + 0.0118 * 170 + 0.0134 * 80) ** 2


def write_table(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return write_table(tmp_path / "iwpc.csv", ROWS)


def test_iwpc_formula_hand_computed(table: Path) -> None:
    feats = read_iwpc_table(table)
    got = W.iwpc_pharmacogenetic_dose(feats).to_numpy()
    assert got == pytest.approx(EXPECTED_IWPC, abs=1e-9)
    # Hand arithmetic of the first row: sqrt dose 5.6713 → 32.1636 mg/week.
    assert got[0] == pytest.approx(32.16364369, abs=1e-6)
    clin = W.iwpc_clinical_dose(feats).to_numpy()
    assert clin[0] == pytest.approx(EXPECTED_CLINICAL_PA1, abs=1e-9)


def test_iwpc_missing_inputs_give_nan(table: Path) -> None:
    feats = read_iwpc_table(table)
    feats.loc[1, "height_cm"] = np.nan
    dose = W.iwpc_pharmacogenetic_dose(feats)
    assert math.isnan(dose[1]) and not math.isnan(dose[0])


def _vk(race: str, **snps: str | None) -> str | None:
    row = {"race": race, "vkorc1_1639": None, "vkorc1_2255": None, "vkorc1_1173": None,
           "vkorc1_1542": None}
    row.update(snps)
    return W.impute_vkorc1(pd.DataFrame([row])).iloc[0]


def test_vkorc1_imputation_rules() -> None:
    # Observed -1639 always wins.
    assert _vk("white", vkorc1_1639="G/G", vkorc1_2255="T/T") == "G/G"
    # rs2359612 (2255) for non-Black, non-missing race.
    assert _vk("white", vkorc1_2255="C/C") == "G/G"
    assert _vk("asian", vkorc1_2255="C/T") == "A/G"
    assert _vk("white", vkorc1_2255="T/T") == "A/A"
    assert _vk("black", vkorc1_2255="T/T") is None
    assert _vk("mixed_or_missing", vkorc1_2255="T/T") is None
    # rs9934438 (1173) for every race.
    assert _vk("black", vkorc1_1173="C/C") == "G/G"
    assert _vk("black", vkorc1_1173="C/T") == "A/G"
    assert _vk("mixed_or_missing", vkorc1_1173="T/T") == "A/A"
    # rs8050894 (1542) for non-Black, non-missing race.
    assert _vk("white", vkorc1_1542="G/G") == "G/G"
    assert _vk("white", vkorc1_1542="C/G") == "A/G"
    assert _vk("asian", vkorc1_1542="C/C") == "A/A"
    assert _vk("black", vkorc1_1542="C/C") is None
    # Order: 2255 before 1173 before 1542.
    assert _vk("white", vkorc1_2255="C/C", vkorc1_1173="T/T") == "G/G"
    assert _vk("black", vkorc1_2255="C/C", vkorc1_1173="T/T") == "A/A"
    assert _vk("white", vkorc1_1173="C/T", vkorc1_1542="C/C") == "A/G"


def test_vkorc1_notations() -> None:
    assert W._vkorc1_from_text("GA") == "A/G"
    assert W._vkorc1_from_text("C/T") == "A/G"  # genomic rs9923231 alleles
    assert W._vkorc1_from_text("T/T") == "A/A"
    assert W._vkorc1_from_text(
        "rs9923231 reference (C)/rs9923231 variant (T)") == "A/G"
    assert W._vkorc1_from_text(None) is None


def test_shipped_model_loads_and_predicts(table: Path) -> None:
    model = W.load_warfarin_model()
    assert model.metadata["training_data"].startswith("iwpc_dev.csv sha256:")
    assert model.metadata["cv"]["overall"]["genoma_model"]["mae"] > 0
    feats = read_iwpc_table(table)
    pred = W.predict_weekly_dose(feats)
    assert list(pred.columns) == ["dose_iwpc", "dose_model", "dose_clinical"]
    assert pred["dose_model"].between(3, 120).all()
    # Same clinical inputs: VKORC1 A/A needs less warfarin than G/G.
    two = pd.concat([feats.iloc[[0]]] * 2, ignore_index=True)
    two["vkorc1_1639"] = ["G/G", "A/A"]
    d = model.predict(two)
    assert d[1] < d[0]
    # JSON round trip gives the same predictions.
    again = W.WarfarinModel.from_json(model.to_json())
    assert again.predict(feats).to_numpy() == pytest.approx(pred["dose_model"].to_numpy())


def test_model_artefact_is_small_and_has_no_patient_ids() -> None:
    path = Path(W.__file__).parent / "models" / W.MODEL_FILE
    text = path.read_text()
    assert len(text) < 20_000
    assert "PA1" not in text
    doc = json.loads(text)
    assert set(doc) == {"format", "intercept", "coefficients", "fill", "metadata"}


def _patient(**kw: object) -> Patient:
    base: dict[str, object] = {
        "id": "P1", "sex": "MALE", "age": "P64Y",
        "measurements": (Measurement(assay_id="LOINC:8302-2", value=170, unit="cm"),
                         Measurement(assay_id="LOINC:29463-7", value=80, unit="kg")),
        "medications": (Medication(label="Amiodarone 200 mg"),),
        "extra": {"race": "White"},
    }
    base.update(kw)
    return Patient(**base)  # type: ignore[arg-type]


def test_warfarin_finding() -> None:
    f = W.warfarin_finding(_patient(), "*1/*1", "C/T")
    assert f is not None and f.kind == "warfarin_dose"
    expected = (5.6044 - 0.2614 * 6 + 0.0087 * 170 + 0.0128 * 80 - 0.8677 - 0.5503) ** 2
    assert f.data["dose_iwpc"] == pytest.approx(expected, abs=0.05)
    assert f.data["dose_model"] > 0 and f.data["dose_clinical"] > 0
    assert any(e.url == W.CPIC_URL for e in f.evidence)
    codes = {lim.code for lim in f.limitations}
    assert {"WARFARIN_CYP4F2_NOT_MODELLED", "WARFARIN_POPULATION_COVERAGE"} <= codes


def test_warfarin_finding_unreadable_inputs_become_unknown() -> None:
    f = W.warfarin_finding(_patient(extra={"race": "European"}), "Indeterminate", "*H1/*H2")
    assert f is not None
    assert f.data["inputs"]["cyp2c9"] is None and f.data["inputs"]["vkorc1_1639"] is None
    assert f.data["inputs"]["race"] == "mixed_or_missing"
    codes = [lim.code for lim in f.limitations]
    assert codes.count("WARFARIN_INPUT_NOT_READABLE") == 3
    assert "WARFARIN_GENOTYPE_UNKNOWN" in codes


def test_warfarin_finding_missing_inputs_is_none() -> None:
    assert W.warfarin_finding(_patient(measurements=()), "*1/*1", "A/G") is None
    assert W.warfarin_finding(_patient(age=None), "*1/*1", "A/G") is None


def test_warfarin_finding_outside_training_range() -> None:
    p = _patient(measurements=(Measurement(assay_id="LOINC:8302-2", value=100, unit="cm"),
                               Measurement(assay_id="LOINC:29463-7", value=20, unit="kg")))
    f = W.warfarin_finding(p, "*1/*1", "A/G")
    assert f is not None and "dose_model" not in f.data
    assert f.confidence.value == "not_assessable"


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(warfarin_cmd)
    return app


def test_cli_writes_tsv_and_manifest(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(_app(), [str(table), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    tsv = pd.read_csv(out / "warfarin.tsv", sep="\t")
    assert list(tsv.columns)[:3] == ["id", "dose_iwpc", "dose_model"]
    assert list(tsv["id"]) == ["PA1", "PA2", "PA3"]
    assert tsv["dose_iwpc"].to_numpy() == pytest.approx(EXPECTED_IWPC, abs=0.006)
    assert tsv["imputed"].isna().all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["inputs"][0]["role"] == "table"
    # Existing OUT without --force is refused (usage, exit 2); with --force it works.
    assert CliRunner().invoke(_app(), [str(table), "-o", str(out)]).exit_code == 2
    assert CliRunner().invoke(_app(), [str(table), "-o", str(out), "--force"]).exit_code == 0


def test_cli_imputes_missing_height(tmp_path: Path) -> None:
    rows = [list(ROWS[0])]
    rows[0][4] = ""
    out = tmp_path / "o"
    res = CliRunner().invoke(_app(), [str(write_table(tmp_path / "t.csv", rows)), "-o",
                                      str(out)])
    assert res.exit_code == 0, res.output
    tsv = pd.read_csv(out / "warfarin.tsv", sep="\t")
    assert tsv.loc[0, "imputed"] == "height_cm"
    fill = W.load_warfarin_model().fill["height_cm/white/male"]
    expected = (5.6044 - 0.2614 * 6 + 0.0087 * fill + 0.0128 * 80 - 0.8677) ** 2
    assert tsv.loc[0, "dose_iwpc"] == pytest.approx(expected, abs=0.006)


def test_cli_malformed_row_exit_4_with_line(tmp_path: Path) -> None:
    rows = [list(ROWS[0]), list(ROWS[1])]
    rows[1][4] = "tall"  # height of the 2nd data row = line 3
    bad = write_table(tmp_path / "bad.csv", rows)
    res = CliRunner().invoke(_app(), [str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 4
    assert "bad.csv:3" in res.output
    assert not (tmp_path / "o").exists()


@settings(max_examples=60, deadline=None)
@given(st.permutations(["A", "G"]), st.sampled_from(["/", "|", ""]))
def test_normalise_genotype_sorts_alleles(alleles: list[str], sep: str) -> None:
    assert normalise_genotype(sep.join(alleles), "AG") == "A/G"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=8))
def test_normalise_genotype_only_valueerror(text: str) -> None:
    try:
        out = normalise_genotype(text, "AG")
    except ValueError:
        return
    assert out is None or out in {"A/A", "A/G", "G/G"}


@pytest.mark.parametrize(("col", "value"), [(3, "sixty"), (13, "*1-*3"), (14, "A/T"),
                                            (7, "2"), (2, "Martian")])
def test_reader_rejects_bad_values(tmp_path: Path, col: int, value: str) -> None:
    row = list(ROWS[0])
    row[col] = value
    path = write_table(tmp_path / "t.csv", [list(ROWS[1]), row])
    with pytest.raises(MalformedInputError) as ei:
        read_iwpc_table(path)
    assert ei.value.line == 3 and ei.value.path == str(path)


def test_reader_rejects_wrong_layout(tmp_path: Path) -> None:
    path = write_table(tmp_path / "t.csv", [["x", "y"]], header=["a", "b"])
    with pytest.raises(MalformedInputError) as ei:
        read_iwpc_table(path)
    assert ei.value.line == 1


@pytest.mark.validation
def test_model_beats_iwpc_on_held_out_20pct() -> None:
    """Train on a fixed 80% of iwpc_dev, score on the other 20%: model MAE ≤ IWPC MAE."""
    path = require_shared("pgx", "warfarin", "iwpc_dev.csv")
    table = read_iwpc_table(path)
    rows = table[W.training_rows(table)].reset_index(drop=True)
    rng = np.random.default_rng(20090219)
    test = rng.random(len(rows)) < 0.2
    model = W.train_warfarin_model(rows[~test])
    held = rows[test]
    y = held["dose_mg_week"].to_numpy()
    mae_model = np.mean(np.abs(model.predict(held).to_numpy() - y))
    mae_iwpc = np.mean(np.abs(W.iwpc_pharmacogenetic_dose(held).to_numpy() - y))
    mae_fixed = np.mean(np.abs(W.FIXED_DOSE_MG_WEEK - y))
    assert mae_iwpc < mae_fixed
    assert mae_model <= mae_iwpc, (mae_model, mae_iwpc)
