"""DUO consent matching: the embedded table and one test per rule."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from genoma.errors import MalformedInputError
from genoma.model.subject import Consent
from genoma.privacy.consent import (
    DUO_TERMS,
    ConsentRecord,
    Purpose,
    check_consent,
    consent_from_model,
    duo_term,
)

from conftest import require_shared


def test_embedded_duo_table_matches_duo_csv() -> None:
    path = require_shared("standards", "duo.csv")
    with open(path, newline="") as fh:
        rows = {r["shorthand"]: r for r in csv.DictReader(fh) if r["shorthand"]}
    for code, term in DUO_TERMS.items():
        assert code in rows, code
        assert rows[code]["id"] == term.id, code
        assert rows[code]["label"] == term.label, code
        kind = "permission" if "data use permission" in rows[code]["description"] else "modifier"
        if code != "CC":
            assert (kind == "permission") == term.permission, code


def test_lookup_by_code_or_id_and_unknown() -> None:
    assert duo_term("hmb").id == "DUO:0000006"
    assert duo_term("DUO:0000042").code == "GRU"
    with pytest.raises(MalformedInputError):
        duo_term("XYZ")
    with pytest.raises(MalformedInputError):
        ConsentRecord("P1", codes=frozenset({"NOT-A-CODE"}))


def C(*codes: str, **kw) -> ConsentRecord:
    return ConsentRecord("P1", codes=frozenset(codes), **kw)


R = Purpose.parse


@pytest.mark.parametrize(
    ("codes", "purpose", "allowed"),
    [
        (("NRES",), "research:ancestry", True),
        (("GRU",), "research", True),
        (("GRU",), "research:ancestry", True),
        (("GRU",), "research:methods", True),
        (("HMB",), "research:health", True),
        (("HMB",), "research:disease:MONDO:0005148", True),
        (("HMB",), "research:ancestry", False),  # HMB excludes population origins
        (("HMB",), "research", False),  # non-health general research
        (("POA",), "research:ancestry", True),
        (("POA",), "research:health", False),
        (("CC",), "research:health", False),  # clinical consent is not research consent
        ((), "research", False),
    ],
)
def test_research_permissions(codes, purpose, allowed) -> None:
    assert (check_consent(C(*codes), R(purpose), user="u") == []) is allowed


def test_disease_specific() -> None:
    c = C("DS", diseases=frozenset({"MONDO:0005148"}))
    assert check_consent(c, R("research:disease:MONDO:0005148"), user="u") == []
    assert check_consent(c, R("research:disease:MONDO:0007254"), user="u")
    assert check_consent(c, R("research:health"), user="u")


def test_secondary_clinical_use_needs_cc_or_nres() -> None:
    assert check_consent(C("CC"), R("clinical_use"), user="u") == []
    assert check_consent(C("NRES"), R("clinical_use"), user="u") == []
    assert check_consent(C("GRU"), R("clinical_use"), user="u")


def test_withdrawn_consent_denies() -> None:
    assert check_consent(C("GRU", withdrawn=True), R("research"), user="u")


@pytest.mark.parametrize(
    ("modifier", "kw", "ok_purpose", "bad_purpose"),
    [
        ("NPU", {}, {"not_for_profit": True}, {"not_for_profit": False}),
        ("NCU", {}, {"commercial": False}, {"commercial": True}),
        ("NPUNCU", {}, {}, {"commercial": True}),
        ("IRB", {}, {"irb_approved": True}, {}),
        ("PUB", {}, {"accepts": frozenset({"PUB"})}, {}),
        ("COL", {}, {"accepts": frozenset({"COL"})}, {}),
        ("RTN", {}, {"accepts": frozenset({"RTN"})}, {}),
        ("MOR", {"moratorium": date(2030, 1, 1)}, {"accepts": frozenset({"MOR"})}, {}),
        ("TS", {"expires": date(2030, 1, 1)}, {"on": date(2029, 12, 31)}, {"on": date(2030, 1, 2)}),
        ("GS", {"regions": frozenset({"EU"})}, {"region": "EU"}, {"region": "US"}),
        ("PS", {"projects": frozenset({"p1"})}, {"project": "p1"}, {"project": "p2"}),
        ("IS", {"institutions": frozenset({"HUG"})}, {"institution": "HUG"}, {"institution": "X"}),
        ("GSO", {}, {"genetic_study": True}, {"genetic_study": False}),
    ],
)
def test_each_modifier(modifier, kw, ok_purpose, bad_purpose) -> None:
    c = C("HMB", modifier, **kw)
    assert check_consent(c, R("research:health", **ok_purpose), user="u") == []
    reasons = check_consent(c, R("research:health", **bad_purpose), user="u")
    assert reasons and reasons[0].startswith(modifier[:3] if modifier != "NPUNCU" else "NCU")


def test_user_specific_restriction() -> None:
    c = C("GRU", "US", users=frozenset({"alice"}))
    assert check_consent(c, R("research"), user="alice") == []
    assert check_consent(c, R("research"), user="bob")


def test_research_type_modifiers() -> None:
    assert check_consent(C("GRU", "NMDS"), R("research:methods"), user="u")
    assert check_consent(C("GRU", "NMDS"), R("research:health"), user="u") == []
    assert check_consent(C("GRU", "NPOA"), R("research:ancestry"), user="u")
    c = C("GRU", "RS", research_types=frozenset({"health"}))
    assert check_consent(c, R("research:health"), user="u") == []
    assert check_consent(c, R("research:methods"), user="u")


def test_purpose_parsing() -> None:
    assert R("research:disease:MONDO:0005148").disease == "MONDO:0005148"
    assert R("clinical_care").label() == "clinical_care"
    for bad in ("fun", "research:astrology", "research:disease", "clinical_care:x"):
        with pytest.raises(MalformedInputError):
            R(bad)


def test_from_model_consent() -> None:
    c = consent_from_model(
        "P1",
        Consent(
            duo_codes=("DS", "GS", "TS"), restrictions=("DS:MONDO:1", "GS:EU", "TS:2031-01-01")
        ),
    )
    assert c.codes == {"DS", "GS", "TS"} and c.diseases == {"MONDO:1"} and c.regions == {"EU"}
    assert c.expires == date(2031, 1, 1)
    with pytest.raises(MalformedInputError):
        consent_from_model("P1", Consent(duo_codes=("GRU",), restrictions=("nonsense",)))
