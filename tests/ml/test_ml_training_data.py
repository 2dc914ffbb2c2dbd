"""Training-table builders: ClinVar label parsing on hand-made files, and the sources that
genoma annotates itself (SAMD11 window) on the real excerpts in ../shared."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from genoma.ml import pathogenicity as pm
from genoma.ml import training_data as td

from conftest import require_shared


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Pathogenic", 1),
        ("Likely_pathogenic", 1),
        ("Pathogenic/Likely_pathogenic", 1),
        ("Benign/Likely_benign", 0),
        ("likely benign", 0),
        ("Conflicting_interpretations_of_pathogenicity", None),
        ("Uncertain_significance", None),
        ("Benign&Pathogenic", None),
        ("", None),
    ],
)
def test_clinsig_label(text, label):
    assert td._clinsig_label(text) == label


def test_clinvar_vcf_labels(tmp_path: Path):
    vcf = tmp_path / "clinvar.vcf.gz"
    lines = [
        "##fileformat=VCFv4.1",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
        "1\t100\t1\tA\tG\t.\t.\tALLELEID=1;CLNSIG=Likely_benign;GENEINFO=X:1",
        "1\t200\t2\tC\tT\t.\t.\tCLNSIG=Pathogenic;GENEINFO=X:1",
        "1\t300\t3\tC\tT\t.\t.\tCLNSIG=Uncertain_significance",
        "1\t400\t4\tC\tT,G\t.\t.\tCLNSIG=Benign",  # multi-allelic: label not per allele
        "1\t500\t5\tG\tA\t.\t.\tCLNREVSTAT=no_assertion",
    ]
    with gzip.open(vcf, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    assert td._clinvar_vcf_labels(vcf) == {("1", 100, "A", "G"): 0, ("1", 200, "C", "T"): 1}


def test_window_offset(tmp_path: Path):
    fa = tmp_path / "w.fa"
    fa.write_text(">1\t1:860260-879955\nACGT\n")
    assert td._window_offset(fa) == ("1", 860259)
    bad = tmp_path / "b.fa"
    bad.write_text(">1\nACGT\n")
    with pytest.raises(ValueError, match="no genomic coordinates"):
        td._window_offset(bad)


@pytest.mark.validation
def test_samd11_window_rows_annotated_by_genoma():
    data = require_shared("reference", "bcftools_csq", "ENST00000341065").parents[2]
    rows = td._samd11_clinvar(data)
    labels = Counter(r["label"] for r in rows)
    assert labels[0] >= 200 and labels[1] >= 1
    assert {r["gene"] for r in rows} == {"SAMD11"}
    assert all(r["hgvs_c"].startswith("ENST00000341065.") for r in rows)
    _X, classes, reasons = pm.feature_matrix(
        [r["hgvs_c"] for r in rows], [r["hgvs_p"] for r in rows]
    )
    # genoma's own HGVS must parse; only deep-intronic rows may be out of scope
    assert all(r is None or "intronic" in r for r in reasons)
    got = Counter(c for c in classes if c is not None)
    assert got["synonymous"] > 100 and got["missense"] > 10


@pytest.mark.validation
def test_training_table_has_no_conflicts_and_both_labels_per_source():
    data = require_shared("rare", "cases-dev.jsonl.gz").parents[1]
    table = td.load_training_table(data)
    key = table["gene"] + "|" + table["hgvs_c"].str.split(":").str[-1]
    coded = table["hgvs_c"] != ""
    assert not key[coded].duplicated().any()
    assert table.attrs["conflicting_keys_dropped"] >= 0
    src = table.groupby("source")["label"].agg(["min", "max", "size"])
    assert src.loc["phenopacket-store", "min"] == 1
    assert src.loc["ClinVar 2020/2023 SAMD11 window (genoma annotate)", "size"] >= 200
    assert np.isin(table["label"].unique(), [0, 1]).all()
