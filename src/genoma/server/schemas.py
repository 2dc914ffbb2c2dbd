"""Request and response bodies of the API (pydantic; they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from genoma.privacy.access import ROLES

__all__ = [
    "FileOut",
    "FindingOut",
    "JobIn",
    "JobOut",
    "PatientDetail",
    "PatientIn",
    "PatientOut",
    "SignOffIn",
    "TokenOut",
    "UserIn",
    "UserOut",
    "UserPatch",
]

Role = Literal["clinician", "analyst", "researcher", "patient", "admin"]
assert set(Role.__args__) == set(ROLES)  # type: ignore[attr-defined]
JobState = Literal["queued", "running", "succeeded", "failed"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
MAX_ID = 2**31 - 1
"""Largest database id (32-bit INTEGER on PostgreSQL; bigger ids are refused with 422)."""
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: Literal["sqlite", "postgresql"]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class UserOut(BaseModel):
    id: int
    username: str
    roles: list[Role]
    active: bool = True


class UserIn(_In):
    username: str = Field(pattern=_NAME)
    password: str = Field(min_length=8, max_length=256)
    roles: list[Role] = Field(min_length=1)


class UserPatch(_In):
    roles: list[Role] | None = Field(default=None, min_length=1)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class PatientIn(_In):
    external_id: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=200)
    consent: list[str] = Field(default_factory=list, max_length=30)
    care_team: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="User names added to the care team (a creating clinician always is).",
    )
    account: str | None = Field(
        default=None, max_length=100, description="User name of the patient's own account."
    )

    @field_validator("consent")
    @classmethod
    def _duo(cls, v: list[str]) -> list[str]:
        from genoma.errors import MalformedInputError
        from genoma.privacy.consent import duo_term

        out = []
        for code in v:
            try:
                out.append(duo_term(code).code)
            except MalformedInputError as exc:
                raise ValueError(str(exc)) from None
        return sorted(set(out))


class PatientOut(BaseModel):
    id: int
    external_id: str
    display_name: str
    consent: list[str]
    care_team: list[str]
    account: str | None
    created_at: datetime


class FileOut(BaseModel):
    id: int
    kind: Literal["vcf", "phenopacket"]
    filename: str
    size: int
    sha256: str
    created_at: datetime | None = None


class JobIn(_In):
    patient_id: DbId
    vcf_file_id: DbId
    phenopacket_file_id: DbId | None = None
    purpose: str = Field(default="clinical_care", max_length=200)


class JobOut(BaseModel):
    id: int
    patient_id: int
    state: JobState
    progress: float
    message: str
    purpose: str
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    formats: list[str]


class PatientDetail(PatientOut):
    files: list[FileOut]
    jobs: list[JobOut]


class FindingOut(BaseModel):
    id: int
    section: str
    title: str
    color: str
    summary: str
    signed_off_by: str | None = None
    signed_off_at: datetime | None = None
    comment: str | None = None


class SignOffIn(_In):
    comment: str = Field(default="", max_length=4000)


class ErrorOut(BaseModel):
    detail: str
