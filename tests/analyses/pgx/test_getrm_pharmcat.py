"""GeT-RM validation with the PharmCAT 3.1.1 definitions (ClinPGx 2025-11-05).

Same harness, truth and name normalisation as ``test_getrm_validation.py``; the only
difference is the knowledge: ``genoma.kb.pharmcat.read_pharmcat`` on
``../shared/data/pgx/pharmcat`` (the content ``genoma kb install pharmcat`` installs).
PharmCAT 3.1.1 has no CYP2C8 definition, so CYP2C8 cannot be validated with it.
"""

from __future__ import annotations

import pytest
from test_getrm_validation import DOCUMENTED, compare_2d6, compare_2022

from conftest import require_shared

#: Discordances with the PharmCAT definitions, each examined (docs/bench/pgx_calling.md).
DOCUMENTED_PHARMCAT = {
    "CYP2C9": DOCUMENTED["CYP2C9"],
    "CYP2D6": {
        **{s: DOCUMENTED["CYP2D6"][s] for s in ("NA12156", "NA18519", "NA18973", "NA20289")},
        "HG01086": "the *1 haplotype carries the core of *178 (PharmVar, defined after "
                   "the 2019 consensus)",
        "NA19777": "*82 core 42129770G>T absent from the panel; the remaining variants "
                   "are *185 in the 2025 definitions (were *88 with pypgx)",
    },
}


@pytest.fixture(scope="module")
def pharmcat():
    from genoma.kb import get_source
    from genoma.kb.pharmcat import read_pharmcat

    return read_pharmcat(require_shared("pgx", "pharmcat"), get_source("pgx").load())


@pytest.mark.validation
@pytest.mark.parametrize("gene", ["CYP2C19", "CYP2C9"])
def test_getrm_2022_with_pharmcat(gene, pharmcat) -> None:
    res = compare_2022(gene, knowledge=pharmcat)
    assert res["n"] + len(res["ungradable"]) >= 85
    undocumented = [d for d in res["discordant"] if d[0] not in DOCUMENTED_PHARMCAT.get(gene, {})]
    assert not undocumented, undocumented
    assert res["fraction"] >= 0.98, res["discordant"]
    assert res["n"] - res["match"] <= len(DOCUMENTED_PHARMCAT.get(gene, {}))


@pytest.mark.validation
def test_getrm_cyp2c19_with_38_exact_pharmcat(pharmcat) -> None:
    res = compare_2022("CYP2C19", with38=True, knowledge=pharmcat)
    assert res["fraction"] >= 0.99, res["discordant"]


@pytest.mark.validation
def test_cyp2c8_not_in_pharmcat(pharmcat) -> None:
    from genoma.analyses.pgx.definitions import compile_gene
    from genoma.errors import KnowledgeError

    with pytest.raises(KnowledgeError):
        compile_gene(pharmcat, "CYP2C8", "GRCh38")


@pytest.mark.validation
def test_getrm_cyp2d6_with_pharmcat(pharmcat) -> None:
    res = compare_2d6(knowledge=pharmcat)
    assert res["all_flagged"]
    assert res["nosv_n"] >= 70
    assert res["nosv_match"] / res["nosv_n"] >= 0.90, res["nosv_discordant"]
    undocumented = [d for d in res["nosv_discordant"]
                    if d[0] not in DOCUMENTED_PHARMCAT["CYP2D6"]]
    assert not undocumented, undocumented
