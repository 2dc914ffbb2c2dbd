"""genoma.io.phenopacket: Phenopacket v2 JSON/YAML reading, writing, fuzzing, real store."""

from __future__ import annotations

import copy
import json
import tarfile
from pathlib import Path

import phenopackets as pps
import pytest
import yaml
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genoma.errors import InputMissingError, MalformedInputError, UsageError
from genoma.io.phenopacket import (
    patient_to_phenopacket,
    read_family,
    read_phenopacket,
    write_phenopacket,
)
from genoma.model.subject import (
    Disease,
    Measurement,
    Medication,
    Patient,
    PedigreeMember,
    PhenotypicFeature,
)

from conftest import require_shared

PACKET = {
    "id": "pp-1",
    "subject": {
        "id": "P1",
        "timeAtLastEncounter": {"age": {"iso8601duration": "P14Y3M"}},
        "sex": "FEMALE",
        "karyotypicSex": "XX",
    },
    "phenotypicFeatures": [
        {"type": {"id": "HP:0001250", "label": "Seizure"},
         "onset": {"age": {"iso8601duration": "P2Y"}}},
        {"type": {"id": "HP:0001263", "label": "Global developmental delay"},
         "onset": {"ontologyClass": {"id": "HP:0003593", "label": "Infantile onset"}}},
        {"type": {"id": "HP:0000252", "label": "Microcephaly"}, "excluded": True},
        {"type": {"id": "HP:0000006", "label": "Autosomal dominant inheritance"},
         "onset": {"gestationalAge": {"weeks": 33, "days": 2}}},
    ],
    "measurements": [
        {"assay": {"id": "LOINC:2160-0", "label": "Creatinine [Mass/volume] in Serum"},
         "value": {"quantity": {"unit": {"id": "UCUM:mg/dL", "label": "mg/dL"},
                                "value": 0.9}},
         "timeObserved": {"timestamp": "2021-03-04T00:00:00Z"}},
        {"assay": {"id": "LOINC:883-9", "label": "ABO group"},
         "value": {"ontologyClass": {"id": "LOINC:LA19710-5", "label": "Group A"}}},
    ],
    "diseases": [{"term": {"id": "OMIM:607208", "label": "Dravet syndrome"},
                  "onset": {"ontologyClass": {"id": "HP:0003593"}}}],
    "medicalActions": [
        {"treatment": {"agent": {"id": "rxnorm:32624", "label": "oxcarbazepine"},
                       "doseIntervals": [{"quantity": {"unit": {"id": "UCUM:mg"},
                                                       "value": 300.0}}]}},
        {"procedure": {"code": {"id": "NCIT:C28743", "label": "Punch biopsy"}}},
    ],
    "metaData": {"created": "2024-01-01T00:00:00Z", "createdBy": "test",
                 "phenopacketSchemaVersion": "2.0"},
}


def dump(tmp_path: Path, doc, name="p.json") -> Path:
    p = tmp_path / name
    if name.endswith((".yaml", ".yml")):
        p.write_text(yaml.safe_dump(doc))
    else:
        p.write_text(json.dumps(doc, indent=2))
    return p


@pytest.mark.parametrize("name", ["p.json", "p.yaml", "p.yml", "p.txt"])
def test_read_maps_every_section(tmp_path, name):
    pt = read_phenopacket(dump(tmp_path, PACKET, name))
    assert pt.id == "P1" and pt.sex == "FEMALE" and pt.age == "P14Y3M"
    assert pt.karyotypic_sex == "XX"
    assert pt.age_years == pytest.approx(14.25)
    assert pt.observed_terms == ["HP:0001250", "HP:0001263", "HP:0000006"]
    assert pt.excluded_terms == ["HP:0000252"]
    assert [f.onset for f in pt.features] == ["P2Y", "HP:0003593", None, "gestational:33w2d"]
    assert pt.diseases == (Disease(id="OMIM:607208", label="Dravet syndrome",
                                   onset="HP:0003593"),)
    creat = pt.measurement("LOINC:2160-0")
    assert creat is not None and creat.value == pytest.approx(0.9)
    assert creat.unit == "UCUM:mg/dL" and creat.time == "2021-03-04T00:00:00Z"
    assert pt.measurement("LOINC:883-9").text_value == "LOINC:LA19710-5"
    assert pt.medications == (Medication(id="rxnorm:32624", label="oxcarbazepine",
                                         dose=300.0, dose_unit="UCUM:mg"),)
    assert pt.extra == {"phenopacket_id": "pp-1"}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_round_trip(tmp_path, fmt):
    pt = read_phenopacket(dump(tmp_path, PACKET))
    out = write_phenopacket(pt, tmp_path / f"out.{fmt}", fmt=fmt, hpo_version="2024-08-13")
    back = read_phenopacket(out)
    assert back == pt
    doc = json.loads(out.read_text()) if fmt == "json" else yaml.safe_load(out.read_text())
    meta = doc["metaData"]
    assert meta["createdBy"] == "genoma" and meta["created"].endswith("Z")
    hp = [r for r in meta["resources"] if r["namespacePrefix"] == "HP"]
    assert hp and hp[0]["version"] == "2024-08-13"
    assert {r["namespacePrefix"] for r in meta["resources"]} >= {"HP", "OMIM", "LOINC", "UCUM"}
    # the written document is a valid Phenopacket v2 message
    json_format.ParseDict(doc, pps.Phenopacket())
    with pytest.raises(UsageError):
        write_phenopacket(pt, out, fmt=fmt)
    write_phenopacket(pt, out, fmt=fmt, overwrite=True)


def test_patient_built_by_hand_round_trips(tmp_path):
    pt = Patient(
        id="X", sex="MALE", age="P40Y",
        features=(PhenotypicFeature(id="HP:0002027", label="Abdominal pain", onset="P3Y/P5Y"),),
        measurements=(Measurement(assay_id="LOINC:1", value=2.5, unit="UCUM:%"),),
        medications=(Medication(label="warfarin", id="DrugCentral:2843", status="stopped"),),
        vcf_sample="SAMPLE_7",
    )
    msg = patient_to_phenopacket(pt)
    assert isinstance(msg, pps.Phenopacket) and msg.subject.id == "X"
    interp = {"id": "i1", "progressStatus": "SOLVED",
              "diagnosis": {"disease": {"id": "OMIM:1", "label": "d"}}}
    out = write_phenopacket(pt, tmp_path / "x.json", interpretations=[interp])
    assert json.loads(out.read_text())["interpretations"][0]["progressStatus"] == "SOLVED"
    assert read_phenopacket(out) == pt
    with pytest.raises(UsageError):
        write_phenopacket(pt, tmp_path / "y.json", interpretations=[{"bogus": 1}])
    with pytest.raises(UsageError):
        write_phenopacket(pt, tmp_path / "z.xml", fmt="xml")  # type: ignore[arg-type]


def test_family(tmp_path):
    fam = {
        "id": "fam1",
        "proband": PACKET,
        "pedigree": {"persons": [
            {"familyId": "F", "individualId": "P1", "paternalId": "D", "maternalId": "M",
             "sex": "FEMALE", "affectedStatus": "AFFECTED"},
            {"familyId": "F", "individualId": "D", "sex": "MALE",
             "affectedStatus": "UNAFFECTED"},
            {"familyId": "F", "individualId": "M", "sex": "FEMALE"},
        ]},
        "metaData": PACKET["metaData"],
    }
    p = dump(tmp_path, fam, "fam.json")
    pt = read_family(p)
    assert read_phenopacket(p) == pt
    assert pt.id == "P1" and len(pt.features) == 4
    assert pt.pedigree == (
        PedigreeMember(family_id="F", individual_id="P1", paternal_id="D", maternal_id="M",
                       sex="FEMALE", affected=True),
        PedigreeMember(family_id="F", individual_id="D", sex="MALE", affected=False),
        PedigreeMember(family_id="F", individual_id="M", sex="FEMALE", affected=None),
    )
    out = write_phenopacket(pt, tmp_path / "fam-out.json")
    assert "proband" in json.loads(out.read_text())
    assert read_family(out) == pt
    with pytest.raises(MalformedInputError, match="Family"):
        read_family(dump(tmp_path, PACKET))
    bad = copy.deepcopy(fam)
    bad["pedigree"]["persons"][0]["individualId"] = "someone-else"
    with pytest.raises(MalformedInputError, match="proband"):
        read_phenopacket(dump(tmp_path, bad, "bad.json"))


def test_malformed_json_names_the_line(tmp_path):
    text = json.dumps(PACKET, indent=2).splitlines()
    text[5] = text[5] + " oops"
    p = tmp_path / "bad.json"
    p.write_text("\n".join(text))
    with pytest.raises(MalformedInputError) as ei:
        read_phenopacket(p)
    assert ei.value.line == 6 and "invalid JSON" in ei.value.problem and ei.value.exit_code == 4


def test_malformed_yaml_names_the_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("id: x\nsubject:\n  id: [unclosed\n  sex: MALE\n")
    with pytest.raises(MalformedInputError) as ei:
        read_phenopacket(p)
    assert ei.value.line is not None and ei.value.line >= 3


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d["subject"].__setitem__("favouriteColour", "blue"), "favouriteColour"),
    (lambda d: d["subject"].__setitem__("sex", "FEMAL"), "subject.sex"),
    (lambda d: d["subject"].__setitem__("id", 3), "id"),
    (lambda d: d["phenotypicFeatures"][0]["type"].__setitem__("lable", "x"), "lable"),
    (lambda d: d.__setitem__("phenotypicFeatures", {"a": 1}), "phenotypicFeatures"),
    (lambda d: d["measurements"][0]["value"]["quantity"].__setitem__("value", "abc"),
     "measurements[0].value.quantity.value"),
    (lambda d: d["phenotypicFeatures"][1]["type"].__setitem__("id", "OMIM:1"),
     "phenotypicFeatures[1].type.id"),
])
def test_schema_errors_name_the_field(tmp_path, mutate, field):
    doc = copy.deepcopy(PACKET)
    mutate(doc)
    with pytest.raises(MalformedInputError) as ei:
        read_phenopacket(dump(tmp_path, doc))
    assert field in ei.value.problem
    assert ei.value.path is not None


def test_unknown_field_line(tmp_path):
    doc = copy.deepcopy(PACKET)
    doc["subject"]["favouriteColour"] = "blue"
    p = dump(tmp_path, doc)
    with pytest.raises(MalformedInputError) as ei:
        read_phenopacket(p)
    lines = p.read_text().splitlines()
    assert "favouriteColour" in lines[ei.value.line - 1]


def test_missing_and_not_object(tmp_path):
    with pytest.raises(InputMissingError) as ei:
        read_phenopacket(tmp_path / "none.json")
    assert ei.value.exit_code == 3
    with pytest.raises(InputMissingError):
        read_phenopacket(tmp_path)
    with pytest.raises(MalformedInputError):
        read_phenopacket(dump(tmp_path, [1, 2]))
    with pytest.raises(MalformedInputError, match="subject"):
        read_phenopacket(dump(tmp_path, {"phenotypicFeatures": []}))


# -- fuzzing ----------------------------------------------------------------------------

_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12),
                       st.floats(allow_nan=True), st.text(max_size=12),
                       st.sampled_from(["HP:0001250", "FEMALE", "P3Y", "OMIM:1", ""]))
_JSON = st.recursive(_JSON_LEAF, lambda c: st.one_of(
    st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
    max_leaves=6)
_KEYS = st.sampled_from(["id", "subject", "sex", "type", "label", "excluded", "onset", "age",
                         "iso8601duration", "phenotypicFeatures", "measurements", "value",
                         "quantity", "unit", "assay", "diseases", "term", "treatment",
                         "agent", "medicalActions", "proband", "pedigree", "persons",
                         "karyotypicSex", "timeAtLastEncounter", "ontologyClass", "x"])


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


@st.composite
def mutated_packets(draw):
    doc = copy.deepcopy(PACKET)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            continue
        key = path[-1]
        if op == "replace":
            parent[key] = draw(_JSON)
        elif op == "delete":
            del parent[key]
        elif isinstance(parent[key], dict):
            parent[key][draw(_KEYS)] = draw(_JSON)
        elif isinstance(parent[key], list):
            parent[key].append(draw(_JSON))
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated_packets(), as_yaml=st.booleans())
def test_fuzzed_packets_load_or_raise_malformed(tmp_path_factory, doc, as_yaml):
    d = tmp_path_factory.mktemp("fz")
    p = d / ("p.yaml" if as_yaml else "p.json")
    try:
        p.write_text(yaml.safe_dump(doc) if as_yaml else json.dumps(doc))
    except (ValueError, UnicodeEncodeError):
        return  # not representable (lone surrogates)
    try:
        pt = read_phenopacket(p)
    except MalformedInputError as exc:
        assert exc.path == str(p)
        return
    assert isinstance(pt, Patient) and pt.id


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, 3000), junk=st.sampled_from(["", "}", "{", ",", "\"", "]", "\x00"]))
def test_fuzzed_json_text(tmp_path_factory, cut, junk):
    text = json.dumps(PACKET, indent=1)
    cut = min(cut, len(text))
    p = tmp_path_factory.mktemp("fz") / "p.json"
    p.write_text(text[:cut] + junk + text[cut + 1:])
    try:
        read_phenopacket(p)
    except MalformedInputError as exc:
        assert exc.line is None or 1 <= exc.line <= text.count("\n") + 2


# -- the real phenopacket-store ------------------------------------------------------


def test_phenopacket_store_sample_loads(tmp_path):
    tar = require_shared("rare", "phenopacket-store-dev.tar.xz")
    known = "phenopacket-store/CYP21A2/phenopackets/PMID_30968594_individual_1.json"
    with tarfile.open(tar) as tf:
        members = sorted((m for m in tf.getmembers()
                          if m.isfile() and m.name.endswith(".json")), key=lambda m: m.name)
        assert len(members) == 8502
        chosen = members[::42]  # deterministic sample of 203 packets
        assert known not in {m.name for m in chosen}
        chosen.append(tf.getmember(known))
        paths = []
        for m in chosen:
            out = tmp_path / m.name.replace("/", "__")
            out.write_bytes(tf.extractfile(m).read())
            paths.append(out)
    patients = [read_phenopacket(p) for p in paths]
    assert len(patients) == 204
    assert all(p.features or p.diseases for p in patients)
    assert sum(len(p.excluded_terms) > 0 for p in patients) > 20
    cyp = patients[-1]
    assert cyp.id == "individual 1" and cyp.sex == "MALE" and cyp.age is None
    assert cyp.observed_terms[:2] == ["HP:0000953", "HP:0040171"]
    assert cyp.excluded_terms == ["HP:0025133"]
    assert cyp.diseases[0].id == "OMIM:201910" and cyp.diseases[0].onset == "P20D"
    t = cyp.measurement("LOINC:2986-8")
    assert t is not None and t.value == 127.0 and t.unit == "UCUM:ng/dL"
    assert len(cyp.measurements) == 6
    # round trip on real data
    back = read_phenopacket(write_phenopacket(cyp, tmp_path / "cyp.yaml", fmt="yaml"))
    assert back == cyp
