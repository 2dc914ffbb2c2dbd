"""Analysis jobs: submit, follow, fetch the report, list findings, sign findings off."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from genoma.errors import MalformedInputError
from genoma.privacy.consent import Purpose
from genoma.server import db
from genoma.server.context import ServerContext, subject_id
from genoma.server.deps import Ctx, CurrentUser, DbSession, PathId
from genoma.server.schemas import FindingOut, JobIn, JobOut, SignOffIn

router = APIRouter(prefix="/jobs", tags=["jobs"])

MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
    "fhir": "application/fhir+json",
}
_FILENAMES = {
    "html": "report.html",
    "pdf": "report.pdf",
    "json": "findings.json",
    "fhir": "report.fhir.json",
}


def job_out(j: db.Job) -> JobOut:
    """API view of a job."""
    return JobOut(
        id=j.id,
        patient_id=j.patient_id,
        state=j.state,
        progress=j.progress,  # type: ignore[arg-type]
        message=j.message,
        purpose=j.purpose,
        attempts=j.attempts,
        created_at=db.as_utc(j.created_at),
        started_at=db.as_utc(j.started_at),
        finished_at=db.as_utc(j.finished_at),
        formats=sorted(k for k in (j.reports or {}) if k in MEDIA_TYPES),
    )


def _job_for(
    ctx: ServerContext, session: Session, user: db.User, job_id: int, action: str = "read"
) -> tuple[db.Job, db.Patient, str, Purpose | None]:
    job = session.get(db.Job, job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    patient = session.get(db.Patient, job.patient_id)
    assert patient is not None
    rid, purpose = ctx.require_patient(user, patient, action, f"job:{job.id}")
    return job, patient, rid, purpose


@router.post("", response_model=JobOut, status_code=202, responses={403: {}, 404: {}, 422: {}})
def submit(body: JobIn, ctx: Ctx, session: DbSession, user: CurrentUser) -> JobOut:
    """Queue an analysis of an uploaded VCF (+ Phenopacket) for a declared purpose."""
    ctx.require_roles(user, {"clinician"}, "write", "jobs")
    patient = session.get(db.Patient, body.patient_id)
    if patient is None:
        raise HTTPException(404, f"no patient {body.patient_id}")
    try:
        purpose = Purpose.parse(body.purpose)
    except MalformedInputError as exc:
        raise HTTPException(422, exc.problem) from None
    sid = subject_id(patient.id)
    rid, purpose = ctx.require_patient(user, patient, "read", f"subject:{sid}", purpose)
    ctx.require_patient(user, patient, "write", f"subject:{sid}")
    files = {}
    for kind, fid in (("vcf", body.vcf_file_id), ("phenopacket", body.phenopacket_file_id)):
        if fid is None:
            continue
        f = session.get(db.StoredFile, fid)
        if f is None or f.patient_id != patient.id or f.kind != kind:
            raise HTTPException(422, f"file {fid} is not a {kind} of patient {patient.id}")
        files[kind] = f
    job = db.Job(
        patient_id=patient.id,
        vcf_file_id=body.vcf_file_id,
        phenopacket_file_id=body.phenopacket_file_id,
        purpose=purpose.label(),
        state="queued",
        progress=0.0,
        message="queued",
        attempts=0,
        reports={},
        created_by=user.id,
    )
    session.add(job)
    session.commit()
    ctx.record(
        user.username, "read", f"subject:{sid}", purpose, rid, detail=f"job {job.id} submitted"
    )
    if ctx.settings.run_jobs_inline:
        from genoma.server.jobs import claim_next, execute_job, new_owner

        owner = new_owner("inline")
        jid = claim_next(ctx, owner)
        if jid is not None:
            execute_job(ctx, jid, owner)
        session.refresh(job)
    else:
        pool = ctx.extra.get("pool")
        if pool is not None:
            pool.notify()
    return job_out(job)


@router.get("", response_model=list[JobOut])
def list_jobs(
    ctx: Ctx,
    session: DbSession,
    user: CurrentUser,
    patient_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[JobOut]:
    """Jobs of the patients the user may see (care team or own account), newest first."""
    ids = ctx.visible_patient_ids(session, user) or []
    if patient_id is not None:
        ids = [i for i in ids if i == patient_id]
    if not ids:
        return []
    q = select(db.Job).where(db.Job.patient_id.in_(ids)).order_by(db.Job.id.desc()).limit(500)
    return [job_out(j) for j in session.scalars(q)]


@router.get("/{job_id}", response_model=JobOut, responses={403: {}, 404: {}})
def read_job(job_id: PathId, ctx: Ctx, session: DbSession, user: CurrentUser) -> JobOut:
    """State and progress of one job."""
    job, _, _, _ = _job_for(ctx, session, user, job_id)
    return job_out(job)


def _finished(job: db.Job) -> None:
    if job.state != "succeeded":
        raise HTTPException(
            409,
            f"job {job.id} is {job.state}: no report"
            + (f" ({job.message})" if job.state == "failed" else ""),
        )


@router.get(
    "/{job_id}/report",
    responses={
        200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "the report"},
        403: {},
        404: {},
        409: {"description": "job not finished"},
    },
    response_class=Response,
)
def report(
    job_id: PathId,
    ctx: Ctx,
    session: DbSession,
    user: CurrentUser,
    format: Literal["html", "pdf", "json", "fhir"] = Query("html"),
) -> Response:
    """The report of a finished job, decrypted from the vault (each read is audited)."""
    job, _, rid, purpose = _job_for(ctx, session, user, job_id)
    _finished(job)
    oid = (job.reports or {}).get(format)
    if oid is None:
        raise HTTPException(404, f"job {job.id} has no {format} report")
    data = ctx.read_object(oid)  # decrypted once, then from the server's memory
    ctx.record(user.username, "read", f"vault:{oid}", purpose, rid)
    return Response(
        content=data,
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'inline; filename="{_FILENAMES[format]}"',
            "Cache-Control": "no-store",
        },
    )


def _findings(ctx: ServerContext, oid: str) -> list[dict[str, Any]]:
    """The findings of a JSON report (parsed once per report version, then cached)."""
    key = ("findings", oid, ctx.vault.manifest(oid).sha256)
    found = ctx.cache.get(key)
    if found is not None:
        return found
    raw = ctx.read_object(oid)
    doc = json.loads(raw)
    found = [
        {
            "section": f.get("analysis", ""),
            "title": f.get("title", ""),
            "color": f.get("color", "grey"),
            "summary": f.get("summary", ""),
        }
        for f in doc.get("findings", [])
    ]
    size = sum(len(str(v)) for f in found for v in f.values()) + 200 * len(found)
    ctx.cache.put(key, found, size)
    return found


def _finding_list(ctx: ServerContext, session: Session, job: db.Job) -> list[FindingOut]:
    oid = (job.reports or {}).get("json")
    if oid is None:
        raise HTTPException(404, f"job {job.id} has no JSON report")
    signs = {
        s.finding_id: s
        for s in session.scalars(select(db.SignOff).where(db.SignOff.job_id == job.id))
    }
    names = (
        dict(
            session.execute(
                select(db.User.id, db.User.username).where(
                    db.User.id.in_([s.user_id for s in signs.values()])
                )
            ).all()
        )
        if signs
        else {}
    )
    out = []
    for i, f in enumerate(_findings(ctx, oid)):
        s = signs.get(i)
        out.append(
            FindingOut(
                id=i,
                **f,
                signed_off_by=names.get(s.user_id) if s else None,
                signed_off_at=db.as_utc(s.signed_at) if s else None,
                comment=s.comment if s else None,
            )
        )
    return out


@router.get(
    "/{job_id}/findings", response_model=list[FindingOut], responses={403: {}, 404: {}, 409: {}}
)
def findings(job_id: PathId, ctx: Ctx, session: DbSession, user: CurrentUser) -> list[FindingOut]:
    """The findings of a finished job's report, with their sign-offs."""
    job, _, rid, purpose = _job_for(ctx, session, user, job_id)
    _finished(job)
    out = _finding_list(ctx, session, job)
    ctx.record(user.username, "read", f"job:{job.id}:findings", purpose, rid)
    return out


@router.post(
    "/{job_id}/findings/{finding_id}/signoff",
    response_model=FindingOut,
    responses={403: {}, 404: {}, 409: {"description": "not finished or signed already"}},
)
def signoff(
    job_id: PathId,
    finding_id: Annotated[int, Path(ge=0, le=10**6)],
    body: SignOffIn,
    ctx: Ctx,
    session: DbSession,
    user: CurrentUser,
) -> FindingOut:
    """Sign off one finding (clinician of the care team); a finding is signed once."""
    ctx.require_roles(user, {"clinician"}, "write", f"job:{job_id}")
    job, _, rid, _ = _job_for(ctx, session, user, job_id, action="write")
    _finished(job)
    items = _finding_list(ctx, session, job)
    if not 0 <= finding_id < len(items):
        raise HTTPException(404, f"job {job.id} has no finding {finding_id}")
    if items[finding_id].signed_off_by is not None:
        raise HTTPException(409, f"finding {finding_id} is signed off already")
    s = db.SignOff(job_id=job.id, finding_id=finding_id, user_id=user.id, comment=body.comment)
    session.add(s)
    try:
        session.commit()
    except Exception as exc:  # a concurrent sign-off of the same finding (unique constraint)
        session.rollback()
        from sqlalchemy.exc import IntegrityError

        if isinstance(exc, IntegrityError):
            raise HTTPException(409, f"finding {finding_id} is signed off already") from None
        raise
    ctx.record(
        user.username, "write", f"job:{job.id}:finding:{finding_id}", None, rid, detail="signed off"
    )
    return _finding_list(ctx, session, job)[finding_id]
