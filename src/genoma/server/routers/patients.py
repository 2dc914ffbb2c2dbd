"""Patients (care-team scoped) and their uploaded files (streamed into the vault)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from genoma.server import db
from genoma.server.context import DATASET, ServerContext, subject_id
from genoma.server.deps import Ctx, CurrentUser, DbSession, PathId
from genoma.server.schemas import FileOut, PatientDetail, PatientIn, PatientOut
from genoma.server.uploads import receive_upload

router = APIRouter(prefix="/patients", tags=["patients"])
_MANAGERS = {"clinician", "admin"}
KINDS = ("vcf", "phenopacket")


def _names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(db.User.id, db.User.username).where(db.User.id.in_(ids)))
    return {uid: name for uid, name in rows}


def patient_out(session: Session, p: db.Patient) -> PatientOut:
    """API view of a patient."""
    ids = [m.user_id for m in p.care_team]
    names = _names(session, [*ids, *([p.account_id] if p.account_id else [])])
    return PatientOut(
        id=p.id,
        external_id=p.external_id,
        display_name=p.display_name,
        consent=list(p.consent),
        care_team=sorted(names[i] for i in ids if i in names),
        account=names.get(p.account_id) if p.account_id else None,
        created_at=db.as_utc(p.created_at),
    )


def file_out(f: db.StoredFile) -> FileOut:
    """API view of a stored file."""
    return FileOut(
        id=f.id,
        kind=f.kind,
        filename=f.filename,
        size=f.size,
        sha256=f.sha256,
        created_at=db.as_utc(f.created_at),
    )  # type: ignore[arg-type]


def get_patient(session: Session, patient_id: int) -> db.Patient:
    """The patient or 404."""
    p = session.get(db.Patient, patient_id)
    if p is None:
        raise HTTPException(404, f"no patient {patient_id}")
    return p


@router.get("", response_model=list[PatientOut])
def list_patients(ctx: Ctx, session: DbSession, user: CurrentUser) -> list[PatientOut]:
    """Patients of the user's care teams (clinicians); every patient (admins)."""
    ctx.require_roles(user, _MANAGERS, "read", "patients")
    q = select(db.Patient).order_by(db.Patient.id)
    if "admin" not in user.roles:
        q = q.where(db.Patient.id.in_(ctx.visible_patient_ids(session, user) or [-1]))
    return [patient_out(session, p) for p in session.scalars(q)]


@router.post(
    "",
    response_model=PatientOut,
    status_code=201,
    responses={409: {"description": "external id taken"}, 422: {"description": "unknown user"}},
)
def create_patient(body: PatientIn, ctx: Ctx, session: DbSession, user: CurrentUser) -> PatientOut:
    """Register a patient with DUO consent codes, care team and (optional) own account."""
    ctx.require_roles(user, _MANAGERS, "write", "patients")
    if session.scalars(
        select(db.Patient).where(db.Patient.external_id == body.external_id)
    ).first():
        raise HTTPException(409, f"patient {body.external_id!r} exists")
    wanted = set(body.care_team) | ({body.account} if body.account else set())
    found = {
        u.username: u for u in session.scalars(select(db.User).where(db.User.username.in_(wanted)))
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise HTTPException(422, f"unknown users: {', '.join(missing)}")
    p = db.Patient(
        external_id=body.external_id,
        display_name=body.display_name,
        consent=list(body.consent),
        created_by=user.id,
        account_id=found[body.account].id if body.account else None,
    )
    members = {found[n].id for n in body.care_team}
    if "clinician" in user.roles:
        members.add(user.id)
    p.care_team = [db.CareTeamMember(user_id=i) for i in sorted(members)]
    session.add(p)
    session.commit()
    ctx.audit.append(
        actor=user.username,
        action="write",
        resource=f"subject:{subject_id(p.id)}",
        purpose=None,
        outcome="success",
        detail="patient registered",
    )
    return patient_out(session, p)


@router.get("/{patient_id}", response_model=PatientDetail, responses={404: {}, 403: {}})
def read_patient(
    patient_id: PathId, ctx: Ctx, session: DbSession, user: CurrentUser
) -> PatientDetail:
    """One patient with its files and jobs (care team, or the patient's own account)."""
    from genoma.server.routers.jobs import job_out

    p = get_patient(session, patient_id)
    rid, purpose = ctx.require_patient(user, p, "read", f"subject:{subject_id(p.id)}")
    files = session.scalars(
        select(db.StoredFile).where(db.StoredFile.patient_id == p.id).order_by(db.StoredFile.id)
    )
    jobs = session.scalars(select(db.Job).where(db.Job.patient_id == p.id).order_by(db.Job.id))
    out = PatientDetail(
        **patient_out(session, p).model_dump(),
        files=[file_out(f) for f in files],
        jobs=[job_out(j) for j in jobs],
    )
    ctx.record(user.username, "read", f"subject:{subject_id(p.id)}", purpose, rid)
    return out


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "kind"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {"type": "string", "enum": list(KINDS)},
                    },
                }
            }
        },
    }
}


def _sniff(kind: str, head: bytes) -> str | None:
    if kind == "vcf":
        if head.startswith(b"\x1f\x8b") or head.startswith(b"##fileformat=VCF"):
            return None
        return "not a VCF (expected '##fileformat=VCF' or gzip/BGZF data)"
    if not head.lstrip().startswith(b"{"):
        return "not a Phenopacket (expected a JSON object)"
    return None


def _store(
    ctx: ServerContext, session: Session, user: db.User, p: db.Patient, up: Any, kind: str
) -> FileOut:
    oid = f"file-{uuid.uuid4().hex}"
    reader = up.file.reader()
    m = ctx.vault.put(oid, reader, dataset=DATASET, subject=subject_id(p.id), extra={"kind": kind})
    if m.sha256 != up.file.sha.hexdigest() or m.size != up.file.size:
        raise HTTPException(500, "upload checksum mismatch while storing")
    f = db.StoredFile(
        patient_id=p.id,
        kind=kind,
        filename=(up.filename or "upload")[:255],
        size=m.size,
        sha256=m.sha256,
        object_id=oid,
        uploaded_by=user.id,
    )
    session.add(f)
    session.commit()
    return file_out(f)


@router.post(
    "/{patient_id}/files",
    response_model=FileOut,
    status_code=201,
    openapi_extra=_UPLOAD_BODY,
    responses={
        404: {},
        403: {},
        413: {"description": "larger than the upload limit"},
        415: {},
        422: {},
    },
)
async def upload(patient_id: PathId, request: Request, ctx: Ctx, user: CurrentUser) -> FileOut:
    """Upload a VCF or a Phenopacket (multipart ``file`` + ``kind``), streamed into the vault."""

    def check() -> tuple[str, Any]:
        with ctx.session() as s:
            ctx.require_roles(user, {"clinician"}, "write", f"subject:{subject_id(patient_id)}")
            p = get_patient(s, patient_id)
            return ctx.require_patient(user, p, "write", f"subject:{subject_id(p.id)}")

    rid, _ = await run_in_threadpool(check)
    up = await receive_upload(request, ctx.data_dir / "tmp", ctx.settings.max_upload_bytes)
    try:
        kind = up.fields.get("kind", "")
        if kind not in KINDS:
            raise HTTPException(422, f"form field 'kind' must be one of {', '.join(KINDS)}")
        if up.file is None:
            raise HTTPException(422, "form field 'file' is missing")
        problem = _sniff(kind, up.file.head)
        if problem:
            raise HTTPException(422, f"{up.filename}: {problem}")

        def store() -> FileOut:
            with ctx.session() as s:
                p = get_patient(s, patient_id)
                out = _store(ctx, s, user, p, up, kind)
            ctx.record(
                user.username,
                "write",
                f"subject:{subject_id(patient_id)}",
                None,
                rid,
                detail=f"uploaded {kind} file {out.id} ({out.size} bytes)",
            )
            return out

        return await run_in_threadpool(store)
    finally:
        if up.file is not None:
            up.file.close()
