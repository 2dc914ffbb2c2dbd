"""The patient (subject) model: who the analysis is about.

Built from a GA4GH Phenopacket v2 by :func:`genoma.io.phenopacket.read_phenopacket`, or
by hand. Every field that a report shows has a place here; nothing clinical is stored
in free-form dictionaries except ``extra``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Consent",
    "Disease",
    "Measurement",
    "Medication",
    "Patient",
    "PedigreeMember",
    "PhenotypicFeature",
    "Sex",
]

Sex = Literal["FEMALE", "MALE", "OTHER_SEX", "UNKNOWN_SEX"]
_HPO = "HP:"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PhenotypicFeature(_Strict):
    """An HPO term observed in (or explicitly excluded from) the patient."""

    id: str
    label: str = ""
    excluded: bool = False
    onset: str | None = None
    """Onset as an HPO onset term id or an ISO 8601 age (e.g. ``P3Y``)."""

    @field_validator("id")
    @classmethod
    def _hpo(cls, v: str) -> str:
        if not (v.startswith(_HPO) and v[3:].isdigit() and len(v) == 10):
            raise ValueError(f"not an HPO term id (HP:0000000): {v!r}")
        return v


class Disease(_Strict):
    """A diagnosed disease (OMIM / Orphanet / MONDO id)."""

    id: str
    label: str = ""
    excluded: bool = False
    onset: str | None = None


class Measurement(_Strict):
    """A clinical measurement: an assay code (LOINC preferred) with a value and unit."""

    assay_id: str
    assay_label: str = ""
    value: float | None = None
    unit: str | None = None
    unit_label: str = ""
    text_value: str | None = None
    time: str | None = None


class Medication(_Strict):
    """A drug the patient takes or is planned to take."""

    id: str = ""
    """Drug identifier, e.g. ``rxnorm:11289`` or ``DrugCentral:…``."""
    label: str
    dose: float | None = None
    dose_unit: str | None = None
    status: str | None = None


class PedigreeMember(_Strict):
    """One person in the pedigree (PED semantics)."""

    family_id: str
    individual_id: str
    paternal_id: str = "0"
    maternal_id: str = "0"
    sex: Sex = "UNKNOWN_SEX"
    affected: bool | None = None


class Consent(_Strict):
    """Data-use permissions of the subject in GA4GH DUO terms."""

    duo_codes: tuple[str, ...] = ()
    restrictions: tuple[str, ...] = ()


class Patient(_Strict):
    """One patient with phenotypes and clinical data.

    Attributes
    ----------
    id
        Subject id (as in the Phenopacket ``subject.id``); the VCF sample name when the
        two agree.
    sex, age
        Phenopacket sex and ISO 8601 age at last encounter (e.g. ``P45Y``), if known.
    features
        Observed and excluded HPO terms.
    """

    id: str
    sex: Sex = "UNKNOWN_SEX"
    age: str | None = None
    karyotypic_sex: str | None = None
    features: tuple[PhenotypicFeature, ...] = ()
    diseases: tuple[Disease, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    medications: tuple[Medication, ...] = ()
    pedigree: tuple[PedigreeMember, ...] = ()
    consent: Consent = Field(default_factory=Consent)
    vcf_sample: str | None = None
    """The sample name in the VCF when it differs from ``id``."""
    extra: dict[str, str] = Field(default_factory=dict)

    @property
    def observed_terms(self) -> list[str]:
        """HPO ids of observed features, in input order."""
        return [f.id for f in self.features if not f.excluded]

    @property
    def excluded_terms(self) -> list[str]:
        """HPO ids of excluded features, in input order."""
        return [f.id for f in self.features if f.excluded]

    @property
    def age_years(self) -> float | None:
        """Age in years from the ISO 8601 duration, if it can be read."""
        if not self.age:
            return None
        import re

        m = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?", self.age)
        if not m or not any(m.groups()):
            return None
        y, mo, w, d = (int(g) if g else 0 for g in m.groups())
        return y + mo / 12 + w / 52.1775 + d / 365.25

    def measurement(self, *codes: str) -> Measurement | None:
        """The first measurement whose assay id is one of ``codes``."""
        for m in self.measurements:
            if m.assay_id in codes:
                return m
        return None
