"""GA4GH Phenopacket v2 reading and writing (JSON and YAML).

Parsing goes through the official schema (the ``phenopackets`` protobuf classes and
:func:`google.protobuf.json_format.ParseDict`), so unknown fields and wrong types are
rejected, then the message is mapped to :class:`~genoma.model.subject.Patient`.

Time elements (onsets, age at last encounter, measurement times) become strings:

============================  ==========================================
Phenopacket ``TimeElement``   string in the model
============================  ==========================================
``age``                       ISO 8601 duration, ``P3Y2M``
``ontologyClass``             the term id, ``HP:0003577``
``gestationalAge``            ``gestational:33w2d``
``ageRange``                  ``P5Y/P10Y``
``timestamp``                 RFC 3339 timestamp, ``2020-01-31T00:00:00Z``
``interval``                  ``<start timestamp>/<end timestamp>``
============================  ==========================================

A ``Family`` message is recognised (by its ``proband`` field): :func:`read_phenopacket`
and :func:`read_family` then return the proband with the pedigree.

References
----------
Jacobsen JOB et al. The GA4GH Phenopacket schema defines a computable representation of
clinical data. Nat Biotechnol 2022;40:817-20.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from genoma.errors import InputMissingError, MalformedInputError, UsageError
from genoma.model.subject import (
    Disease,
    Measurement,
    Medication,
    Patient,
    PedigreeMember,
    PhenotypicFeature,
)

__all__ = [
    "patient_to_phenopacket",
    "phenopacket_to_patient",
    "read_family",
    "read_phenopacket",
    "write_phenopacket",
]

#: Ontology resources written into ``metaData.resources`` for the prefixes in use.
RESOURCES: dict[str, dict[str, str]] = {
    "HP": {"id": "hp", "name": "human phenotype ontology",
           "url": "http://purl.obolibrary.org/obo/hp.owl",
           "iri_prefix": "http://purl.obolibrary.org/obo/HP_"},
    "OMIM": {"id": "omim", "name": "Online Mendelian Inheritance in Man",
             "url": "https://www.omim.org", "iri_prefix": "https://www.omim.org/entry/"},
    "MONDO": {"id": "mondo", "name": "Mondo Disease Ontology",
              "url": "http://purl.obolibrary.org/obo/mondo.obo",
              "iri_prefix": "http://purl.obolibrary.org/obo/MONDO_"},
    "ORPHA": {"id": "orpha", "name": "Orphanet rare disease ontology",
              "url": "https://www.orpha.net", "iri_prefix": "http://www.orpha.net/ORDO/Orphanet_"},
    "LOINC": {"id": "loinc", "name": "Logical Observation Identifiers Names and Codes",
              "url": "https://loinc.org", "iri_prefix": "https://loinc.org/"},
    "UCUM": {"id": "ucum", "name": "Unified Code for Units of Measure",
             "url": "https://ucum.org", "iri_prefix": "https://ucum.org/"},
    "NCIT": {"id": "ncit", "name": "NCI Thesaurus",
             "url": "http://purl.obolibrary.org/obo/ncit.owl",
             "iri_prefix": "http://purl.obolibrary.org/obo/NCIT_"},
    "DrugCentral": {"id": "drugcentral", "name": "DrugCentral",
                    "url": "https://drugcentral.org",
                    "iri_prefix": "https://drugcentral.org/drugcard/"},
    "rxnorm": {"id": "rxnorm", "name": "RxNorm",
               "url": "https://www.nlm.nih.gov/research/umls/rxnorm",
               "iri_prefix": "https://mor.nlm.nih.gov/RxNav/search?searchBy=RXCUI&searchTerm="},
}

_SEXES = ("UNKNOWN_SEX", "FEMALE", "MALE", "OTHER_SEX")


# -- reading --------------------------------------------------------------------------


def _load_document(path: Path) -> tuple[Any, str]:
    """Load JSON or YAML into Python objects; return them with the raw text."""
    if not path.exists():
        raise InputMissingError("phenopacket file not found", path=path)
    if not path.is_file():
        raise InputMissingError("phenopacket path is not a file", path=path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputMissingError(f"phenopacket file is not readable ({exc})", path=path) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MalformedInputError(f"not UTF-8 text ({exc.reason})", path=path,
                                  line=line) from exc
    is_yaml = path.suffix.lower() in {".yaml", ".yml"} or (
        not text.lstrip().startswith(("{", "[")) and path.suffix.lower() != ".json")
    if is_yaml:
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise MalformedInputError(
                f"invalid YAML: {problem}", path=path,
                line=(mark.line + 1) if mark is not None else None) from exc
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MalformedInputError(f"invalid JSON: {exc.msg} (column {exc.colno})",
                                      path=path, line=exc.lineno) from exc
        except RecursionError as exc:
            raise MalformedInputError("invalid JSON: nested too deeply", path=path) from exc
    if not isinstance(doc, dict):
        raise MalformedInputError(
            f"a phenopacket must be a JSON/YAML object, found {type(doc).__name__}", path=path,
            line=1)
    return doc, text


def _line_of_field(text: str, *names: str | None) -> int | None:
    """1-based line of key ``names[-1]``, found after ``names[0]``, ``names[1]``, … in turn.

    A heuristic over the JSON/YAML text (the parsed objects have no positions): it finds
    the first occurrence of each key after the previous one.
    """
    pos = 0
    found = None
    for name in names:
        if not name:
            continue
        m = re.compile(r'(^|[\s{,])"?' + re.escape(name) + r'"?\s*:', re.MULTILINE).search(
            text, pos)
        if m is None:
            break
        found = pos = m.start()
    return None if found is None else text.count("\n", 0, found) + 1


def _parse_message(doc: dict[str, Any], message: Any, path: Path, text: str) -> Any:
    """``json_format.ParseDict`` with errors turned into MalformedInputError."""
    from google.protobuf import json_format

    try:
        json_format.ParseDict(doc, message)
    except json_format.ParseError as exc:
        msg = str(exc).split("\n")[0].rstrip(".")
        unknown = re.search(r'has no field named "([^"]+)" at "([^"]*)"', msg)
        if unknown:
            field, where = unknown.group(1), unknown.group(2)
            problem = f"unknown field {field!r} in {where} (Phenopacket v2 schema)"
            parents = [re.sub(r"\[\d+\]$", "", x) for x in where.split(".")[1:]]
            line = _line_of_field(text, *parents, field)
        else:
            fields = re.findall(r"Failed to parse (\w+) field", msg)
            detail = re.sub(r"^(Failed to parse \w+ field: )+", "", msg)
            at = re.search(r" at ([\w.\[\]]+?)\.*$", detail)
            if at:
                where = at.group(1)
                detail = detail[: at.start()]
                if fields and fields[-1] != re.sub(r"\[\d+\]$", "", where.split(".")[-1]):
                    where += "." + fields[-1]
            else:
                where = ".".join(["Phenopacket", *fields])
            problem = f"invalid value for field {where}: {detail}"
            line = _line_of_field(text, *fields)
        raise MalformedInputError(problem, path=path, line=line) from exc
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        raise MalformedInputError(f"does not follow the Phenopacket v2 schema ({exc})",
                                  path=path) from exc
    return message


def _time_to_str(t: Any) -> str | None:
    """A ``TimeElement`` as a string (see the module docstring), ``None`` when unset."""
    kind = t.WhichOneof("element")
    if kind is None:
        return None
    if kind == "age":
        return t.age.iso8601duration or None
    if kind == "ontology_class":
        return t.ontology_class.id or None
    if kind == "gestational_age":
        return f"gestational:{t.gestational_age.weeks}w{t.gestational_age.days}d"
    if kind == "age_range":
        return f"{t.age_range.start.iso8601duration}/{t.age_range.end.iso8601duration}"
    if kind == "timestamp":
        return t.timestamp.ToJsonString()
    if kind == "interval":
        return f"{t.interval.start.ToJsonString()}/{t.interval.end.ToJsonString()}"
    return None  # pragma: no cover - future oneof members


def _str_to_time(s: str, target: Any) -> None:
    """Fill the ``TimeElement`` ``target`` from its string form."""
    if s.startswith("gestational:"):
        m = re.fullmatch(r"gestational:(\d+)w(\d+)d", s)
        if not m:
            raise UsageError(f"bad gestational age {s!r} (gestational:<weeks>w<days>d)")
        target.gestational_age.weeks = int(m.group(1))
        target.gestational_age.days = int(m.group(2))
    elif s.startswith("P") and "/" in s:
        a, b = s.split("/", 1)
        target.age_range.start.iso8601duration = a
        target.age_range.end.iso8601duration = b
    elif s.startswith("P"):
        target.age.iso8601duration = s
    elif re.match(r"\d{4}-\d\d-\d\d", s):
        if "/" in s:
            a, b = s.split("/", 1)
            target.interval.start.FromJsonString(a)
            target.interval.end.FromJsonString(b)
        else:
            target.timestamp.FromJsonString(s)
    else:
        target.ontology_class.id = s


def _field_error(path: Path, text: str, where: str, key: str | None,
                 exc: Exception) -> MalformedInputError:
    if isinstance(exc, ValidationError):
        detail = "; ".join(e["msg"] for e in exc.errors())
    else:
        detail = str(exc)
    return MalformedInputError(f"invalid {where}: {detail}", path=path,
                               line=_line_of_field(text, key))


def _enum_name(enum: Any, value: int, field: str, path: Any, text: str | None) -> str:
    """The name of a protobuf enum value; an undefined number is malformed input."""
    try:
        return str(enum.Name(value))
    except ValueError:
        where = Path(path) if path is not None else None
        raise MalformedInputError(
            f"{field}: {value!r} is not a defined {enum.DESCRIPTOR.name} value",
            path=where, line=_line_of_field(text, field.rsplit(".", 1)[-1]) if text else None,
        ) from None


def phenopacket_to_patient(packet: Any, *, path: str | Path | None = None,
                           text: str = "") -> Patient:
    """Map a ``Phenopacket`` message to a :class:`Patient`.

    Parameters
    ----------
    packet
        A ``phenopackets.Phenopacket``.
    path, text
        The source file and its text, for error messages.

    Returns
    -------
    Patient

    Raises
    ------
    MalformedInputError
        A value the model rejects (e.g. a phenotypic feature that is not an HPO term),
        naming the field.
    """
    p = Path(path) if path is not None else Path("<phenopacket>")
    subj = packet.subject
    pid = subj.id or packet.id
    if not pid:
        raise MalformedInputError("neither subject.id nor id is set", path=p,
                                  line=_line_of_field(text, "subject"))
    features = []
    for i, pf in enumerate(packet.phenotypic_features):
        try:
            features.append(PhenotypicFeature(
                id=pf.type.id, label=pf.type.label, excluded=pf.excluded,
                onset=_time_to_str(pf.onset) if pf.HasField("onset") else None))
        except (ValidationError, ValueError) as exc:
            raise _field_error(p, text, f"phenotypicFeatures[{i}].type.id", pf.type.id or "type",
                               exc) from exc
    diseases = []
    for i, d in enumerate(packet.diseases):
        if not d.term.id:
            raise MalformedInputError(f"diseases[{i}].term.id is missing", path=p,
                                      line=_line_of_field(text, "diseases"))
        diseases.append(Disease(id=d.term.id, label=d.term.label, excluded=d.excluded,
                                onset=_time_to_str(d.onset) if d.HasField("onset") else None))
    measurements = []
    for i, m in enumerate(packet.measurements):
        if not m.assay.id:
            raise MalformedInputError(f"measurements[{i}].assay.id is missing", path=p,
                                      line=_line_of_field(text, "assay"))
        kw: dict[str, Any] = {"assay_id": m.assay.id, "assay_label": m.assay.label}
        vk = m.WhichOneof("measurement_value")
        if vk == "value":
            if m.value.WhichOneof("value") == "quantity":
                q = m.value.quantity
                kw.update(value=q.value, unit=q.unit.id or None, unit_label=q.unit.label)
            elif m.value.WhichOneof("value") == "ontology_class":
                kw["text_value"] = m.value.ontology_class.id or m.value.ontology_class.label
        elif vk == "complex_value":
            parts = [f"{tq.type.label or tq.type.id}={tq.quantity.value:g}"
                     f"{(' ' + tq.quantity.unit.id) if tq.quantity.unit.id else ''}"
                     for tq in m.complex_value.typed_quantities]
            kw["text_value"] = "; ".join(parts)
        if m.HasField("time_observed"):
            kw["time"] = _time_to_str(m.time_observed)
        try:
            measurements.append(Measurement(**kw))
        except (ValidationError, ValueError) as exc:  # pragma: no cover - model is lax
            raise _field_error(p, text, f"measurements[{i}]", "measurements", exc) from exc
    medications = []
    for a in packet.medical_actions:
        if a.WhichOneof("action") != "treatment":
            continue
        t = a.treatment
        dose = unit = None
        if t.dose_intervals:
            q = t.dose_intervals[0].quantity
            dose, unit = q.value, (q.unit.id or None)
        status = None
        if a.HasField("treatment_termination_reason"):
            status = a.treatment_termination_reason.label or a.treatment_termination_reason.id
        medications.append(Medication(id=t.agent.id, label=t.agent.label or t.agent.id,
                                      dose=dose, dose_unit=unit, status=status))
    extra: dict[str, str] = {}
    age = None
    if subj.HasField("time_at_last_encounter"):
        tale = subj.time_at_last_encounter
        if tale.WhichOneof("element") == "age":
            age = tale.age.iso8601duration or None
        else:
            s = _time_to_str(tale)
            if s:
                extra["time_at_last_encounter"] = s
    if subj.HasField("vital_status"):
        from phenopackets import VitalStatus

        extra["vital_status"] = _enum_name(VitalStatus.Status, subj.vital_status.status, "subject.vitalStatus.status", path, text)
    if packet.id and packet.id != pid:
        extra["phenopacket_id"] = packet.id
    vcf_sample = None
    for f in packet.files:
        sample = f.individual_to_file_identifiers.get(pid)
        if sample and sample != pid:
            vcf_sample = sample
    from phenopackets import KaryotypicSex, Sex

    kary = _enum_name(KaryotypicSex, subj.karyotypic_sex, "subject.karyotypicSex", path, text) if subj.karyotypic_sex else None
    try:
        return Patient(
            id=pid, sex=_enum_name(Sex, subj.sex, "subject.sex", path, text), age=age, karyotypic_sex=kary,
            features=tuple(features), diseases=tuple(diseases),
            measurements=tuple(measurements), medications=tuple(medications),
            vcf_sample=vcf_sample, extra=extra)
    except (ValidationError, ValueError) as exc:  # pragma: no cover - fields checked above
        raise _field_error(p, text, "subject", "subject", exc) from exc


def _pedigree(ped: Any, path: Path, text: str) -> tuple[PedigreeMember, ...]:
    from phenopackets import Pedigree, Sex

    members = []
    for i, person in enumerate(ped.persons):
        if not person.individual_id:
            raise MalformedInputError(f"pedigree.persons[{i}].individualId is missing",
                                      path=path, line=_line_of_field(text, "persons"))
        status = _enum_name(Pedigree.Person.AffectedStatus, person.affected_status, "pedigree.persons.affectedStatus", path, text)
        members.append(PedigreeMember(
            family_id=person.family_id or "0", individual_id=person.individual_id,
            paternal_id=person.paternal_id or "0", maternal_id=person.maternal_id or "0",
            sex=_enum_name(Sex, person.sex, "pedigree.persons.sex", path, text),
            affected={"AFFECTED": True, "UNAFFECTED": False}.get(status)))
    return tuple(members)


def _read(path: str | Path, want_family: bool | None) -> Patient:
    import phenopackets as pps

    p = Path(path)
    doc, text = _load_document(p)
    is_family = "proband" in doc
    if want_family and not is_family:
        raise MalformedInputError("not a Phenopacket Family message (no 'proband')", path=p,
                                  line=1)
    if is_family:
        fam = _parse_message(doc, pps.Family(), p, text)
        if not fam.HasField("proband"):
            raise MalformedInputError("the Family has no proband", path=p,
                                      line=_line_of_field(text, "proband"))
        patient = phenopacket_to_patient(fam.proband, path=p, text=text)
        members = _pedigree(fam.pedigree, p, text)
        ids = {m.individual_id for m in members}
        if members and patient.id not in ids:
            raise MalformedInputError(
                f"the proband {patient.id!r} is not in the pedigree", path=p,
                line=_line_of_field(text, "pedigree"))
        return patient.model_copy(update={"pedigree": members})
    packet = _parse_message(doc, pps.Phenopacket(), p, text)
    return phenopacket_to_patient(packet, path=p, text=text)


def read_phenopacket(path: str | Path) -> Patient:
    """Read a GA4GH Phenopacket v2 (JSON or YAML) as a :class:`Patient`.

    A ``Family`` message is detected automatically (by its ``proband`` field) and read
    as :func:`read_family` does.

    Parameters
    ----------
    path
        ``.json``, ``.yaml`` or ``.yml`` file (the content decides when the suffix
        does not tell).

    Returns
    -------
    Patient
        Subject (id, sex, age at last encounter, karyotypic sex), phenotypic features
        (observed and excluded, with onset), diseases, measurements, medications
        (``medicalActions`` treatments) and, for a Family, the pedigree.

    Raises
    ------
    InputMissingError
        The file does not exist or cannot be read (exit 3).
    MalformedInputError
        Invalid JSON/YAML (with the line), or a schema error (unknown field, wrong
        type) naming the field (exit 4).
    """
    return _read(path, None)


def read_family(path: str | Path) -> Patient:
    """Read a Phenopacket v2 ``Family``: the proband, with the pedigree members.

    Raises
    ------
    InputMissingError
        The file does not exist or cannot be read (exit 3).
    MalformedInputError
        Not a Family message, or malformed (exit 4).
    """
    return _read(path, True)


# -- writing --------------------------------------------------------------------------


def _prefix(curie: str) -> str:
    return curie.split(":", 1)[0] if ":" in curie else ""


def patient_to_phenopacket(patient: Patient) -> Any:
    """Build a ``Phenopacket`` message (without ``metaData``) from a :class:`Patient`.

    The pedigree is not part of a Phenopacket (it belongs to a ``Family``) and is not
    written; :func:`write_phenopacket` writes a Family when the patient has one.
    """
    import phenopackets as pps

    pk = pps.Phenopacket(id=patient.extra.get("phenopacket_id", patient.id))
    s = pk.subject
    s.id = patient.id
    s.sex = pps.Sex.Value(patient.sex)
    if patient.karyotypic_sex:
        s.karyotypic_sex = pps.KaryotypicSex.Value(patient.karyotypic_sex)
    if patient.age:
        s.time_at_last_encounter.age.iso8601duration = patient.age
    elif patient.extra.get("time_at_last_encounter"):
        _str_to_time(patient.extra["time_at_last_encounter"], s.time_at_last_encounter)
    if patient.extra.get("vital_status"):
        s.vital_status.status = pps.VitalStatus.Status.Value(patient.extra["vital_status"])
    for f in patient.features:
        pf = pk.phenotypic_features.add()
        pf.type.id, pf.type.label, pf.excluded = f.id, f.label, f.excluded
        if f.onset:
            _str_to_time(f.onset, pf.onset)
    for d in patient.diseases:
        dm = pk.diseases.add()
        dm.term.id, dm.term.label, dm.excluded = d.id, d.label, d.excluded
        if d.onset:
            _str_to_time(d.onset, dm.onset)
    for m in patient.measurements:
        mm = pk.measurements.add()
        mm.assay.id, mm.assay.label = m.assay_id, m.assay_label
        if m.value is not None:
            mm.value.quantity.value = m.value
            mm.value.quantity.unit.id = m.unit or ""
            mm.value.quantity.unit.label = m.unit_label
        elif m.text_value is not None:
            mm.value.ontology_class.id = m.text_value
        if m.time:
            _str_to_time(m.time, mm.time_observed)
    for med in patient.medications:
        a = pk.medical_actions.add()
        a.treatment.agent.id, a.treatment.agent.label = med.id, med.label
        if med.dose is not None:
            di = a.treatment.dose_intervals.add()
            di.quantity.value = med.dose
            di.quantity.unit.id = med.dose_unit or ""
        if med.status:
            a.treatment_termination_reason.label = med.status
    if patient.vcf_sample:
        f = pk.files.add()
        f.uri = patient.extra.get("vcf_uri", "")
        f.individual_to_file_identifiers[patient.id] = patient.vcf_sample
    return pk


def _meta_data(meta: Any, used: set[str], hpo_version: str | None) -> None:
    meta.created.FromDatetime(_dt.datetime.now(_dt.UTC).replace(microsecond=0))
    meta.created_by = "genoma"
    meta.phenopacket_schema_version = "2.0"
    for prefix in ["HP", *sorted(used - {"HP"})]:
        info = RESOURCES.get(prefix)
        if info is None:
            continue
        r = meta.resources.add()
        r.id, r.name, r.url, r.iri_prefix = info["id"], info["name"], info["url"], info["iri_prefix"]
        r.namespace_prefix = prefix
        r.version = (hpo_version or "unknown") if prefix == "HP" else "unknown"


def write_phenopacket(
    patient: Patient,
    path: str | Path,
    interpretations: Sequence[Any] | None = None,
    fmt: Literal["json", "yaml"] = "json",
    *,
    hpo_version: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a patient as a valid GA4GH Phenopacket v2 (a ``Family`` if it has a pedigree).

    Parameters
    ----------
    patient
        The patient.
    path
        Output file; written to a temporary file and renamed.
    interpretations
        ``Interpretation`` messages or their JSON dictionaries to include.
    fmt
        ``json`` or ``yaml``.
    hpo_version
        The HPO release the terms come from (``metaData.resources``).
    overwrite
        Replace an existing file.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    UsageError
        Unknown ``fmt``, the file exists and ``overwrite`` is false, or an interpretation
        that is not a valid ``Interpretation`` (exit 2).
    """
    import phenopackets as pps
    from google.protobuf import json_format

    if fmt not in ("json", "yaml"):
        raise UsageError(f"unknown phenopacket format {fmt!r} (json or yaml)")
    out = Path(path)
    if out.exists() and not overwrite:
        raise UsageError("output exists (use overwrite / --force)", path=out)
    pk = patient_to_phenopacket(patient)
    for it in interpretations or ():
        if isinstance(it, Mapping):
            try:
                json_format.ParseDict(dict(it), pk.interpretations.add())
            except json_format.ParseError as exc:
                raise UsageError(f"invalid interpretation: {exc}") from exc
        else:
            pk.interpretations.add().CopyFrom(it)
    used = {_prefix(f.id) for f in patient.features}
    used |= {_prefix(d.id) for d in patient.diseases}
    used |= {_prefix(m.assay_id) for m in patient.measurements}
    used |= {_prefix(m.unit) for m in patient.measurements if m.unit}
    used |= {_prefix(m.id) for m in patient.medications if m.id}
    if patient.pedigree:
        fam = pps.Family(id=f"{patient.id}-family")
        fam.proband.CopyFrom(pk)
        for m in patient.pedigree:
            person = fam.pedigree.persons.add()
            person.family_id, person.individual_id = m.family_id, m.individual_id
            person.paternal_id, person.maternal_id = m.paternal_id, m.maternal_id
            person.sex = pps.Sex.Value(m.sex)
            person.affected_status = pps.Pedigree.Person.AffectedStatus.Value(
                {True: "AFFECTED", False: "UNAFFECTED", None: "MISSING"}[m.affected])
        _meta_data(fam.meta_data, used, hpo_version)
        _meta_data(fam.proband.meta_data, used, hpo_version)
        msg: Any = fam
    else:
        _meta_data(pk.meta_data, used, hpo_version)
        msg = pk
    doc = json_format.MessageToDict(msg)
    if fmt == "json":
        body = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    else:
        import yaml

        body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out
