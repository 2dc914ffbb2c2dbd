"""The running server's shared state (database, vault, audit log, secrets) and access checks.

Access decisions go through :func:`genoma.privacy.access.authorize`: for each request a
:class:`~genoma.privacy.access.Policy` is built from the database holding the requesting
user, the server's dataset (:data:`DATASET`, whose grants follow the roles of the API
contract) and, when a patient is concerned, that patient as a subject (DUO consent, care
team, own account). Every denial is written to the audit log before the 403 is sent.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from genoma.errors import ConsentDeniedError
from genoma.privacy.access import AccessController, Dataset, Policy, Subject
from genoma.privacy.access import User as PolicyUser
from genoma.privacy.audit import AuditLog
from genoma.privacy.consent import ConsentRecord, Purpose
from genoma.privacy.vault import Vault
from genoma.server import db
from genoma.server.cache import PlaintextCache
from genoma.server.security import read_or_create_secret
from genoma.server.settings import ServerSettings

__all__ = ["DATASET", "ServerContext", "open_context"]

DATASET = "genoma-server"
"""The vault dataset of everything the server stores."""

_GRANTS: dict[str, frozenset[str]] = {
    "role:clinician": frozenset({"read", "write"}),
    "role:analyst": frozenset({"read"}),
    "role:patient": frozenset({"read"}),
}


def subject_id(patient_id: int) -> str:
    """The vault / policy subject id of a patient."""
    return f"patient-{patient_id}"


@dataclass
class ServerContext:
    """Everything request handlers and workers share."""

    settings: ServerSettings
    data_dir: Path
    engine: Engine
    sessions: sessionmaker
    vault: Vault
    audit: AuditLog
    token_secret: str
    dialect: str
    vault_passphrase: str = field(default="", repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: PlaintextCache = field(default_factory=lambda: PlaintextCache(0))

    def session(self) -> Session:
        """A new database session."""
        return self.sessions()

    def read_object(self, object_id: str) -> bytes:
        """The plaintext of a (small) vault object, from :attr:`cache` when possible.

        The cache key includes the SHA-256 recorded in the object's manifest, so a
        replaced object is read (and verified) from the vault again. Callers authorize
        the read and audit it; this only reads.
        """
        import io

        key = ("object", object_id, self.vault.manifest(object_id).sha256)
        data = self.cache.get(key)
        if data is None:
            buf = io.BytesIO()
            m = self.vault.get(object_id, buf, precheck=False)  # verified decryption
            data = buf.getvalue()
            if ("object", object_id, m.sha256) == key:  # not replaced in between
                self.cache.put(key, data, len(data))
        return data

    # ------------------------------------------------------------ access
    def policy_for(self, user: db.User, patient: db.Patient | None) -> Policy:
        """A policy with ``user``, the server dataset and ``patient`` (if given)."""
        pu = PolicyUser(name=user.username, roles=frozenset(user.roles))
        subjects = {}
        if patient is not None:
            sid = subject_id(patient.id)
            members = {m.user_id for m in patient.care_team}
            consent = ConsentRecord(subject=sid, codes=frozenset(patient.consent))
            subjects[sid] = Subject(
                id=sid,
                consent=consent,
                care_team=frozenset({user.username}) if user.id in members else frozenset(),
                account=user.username if patient.account_id == user.id else None,
            )
        return Policy(
            users={user.username: pu},
            datasets={DATASET: Dataset(name=DATASET, grants=dict(_GRANTS))},
            subjects=subjects,
        )

    def deny(self, user: str, action: str, resource: str, reason: str) -> None:
        """Audit a denial and raise :class:`ConsentDeniedError` (HTTP 403)."""
        self.audit.append(
            actor=user,
            action=action,
            resource=resource,
            purpose=None,
            outcome="denied",
            detail=reason,
        )
        raise ConsentDeniedError(f"{user} may not {action} {resource}: {reason}")

    def require_roles(self, user: db.User, roles: set[str], action: str, resource: str) -> None:
        """Allow when ``user`` has one of ``roles``; otherwise audit and raise."""
        if not roles & set(user.roles):
            self.deny(
                user.username,
                action,
                resource,
                f"roles {sorted(user.roles)} are not among {sorted(roles)}",
            )

    def require_patient(
        self,
        user: db.User,
        patient: db.Patient,
        action: str,
        resource: str,
        purpose: Purpose | None = None,
    ) -> tuple[str, Purpose | None]:
        """Authorize ``action`` on ``patient``'s data (rules R1–R8 of the privacy core).

        ``read`` without a declared purpose is tried as the care of this patient
        (``clinical_care``) and as the patient's own access (``self``). ``write`` also
        requires membership of the care team.

        Returns
        -------
        tuple
            The audit request id and the purpose that was allowed.

        Raises
        ------
        ConsentDeniedError
            When denied (audited first).
        """
        from genoma.privacy.access import authorize

        policy = self.policy_for(user, patient)
        controller = AccessController(policy, self.audit)
        sid = subject_id(patient.id)
        if action == "write":
            rid = controller.require(
                user.username, "write", resource=resource, dataset=DATASET, subject=sid
            )
            if user.id not in {m.user_id for m in patient.care_team}:
                self.deny(user.username, action, resource, f"not in the care team of {sid}")
            return rid, purpose
        if purpose is None:
            for kind in ("clinical_care", "self"):
                p = Purpose(kind=kind)  # type: ignore[arg-type]
                d = authorize(
                    policy, user.username, action, dataset=DATASET, subject=sid, purpose=p
                )
                if d.allowed:
                    purpose = p
                    break
            else:
                purpose = Purpose(kind="clinical_care")
        rid = controller.require(
            user.username,
            action,
            resource=resource,
            dataset=DATASET,
            subject=sid,
            purpose=purpose,
        )
        return rid, purpose

    def record(
        self,
        user: str,
        action: str,
        resource: str,
        purpose: Purpose | None,
        rid: str,
        outcome: str = "success",
        detail: str | None = None,
    ) -> None:
        """Audit the outcome of an allowed request."""
        from genoma.privacy.access import record_outcome

        record_outcome(self.audit, user, action, resource=resource, purpose=purpose,
                       outcome=outcome, request_id=rid, detail=detail)

    def visible_patient_ids(self, session: Session, user: db.User) -> list[int] | None:
        """Patients whose data ``user`` may see (care team or own account); ``None``: all."""
        ids = set(
            session.scalars(
                select(db.CareTeamMember.patient_id).where(db.CareTeamMember.user_id == user.id)
            )
        )
        ids |= set(session.scalars(select(db.Patient.id).where(db.Patient.account_id == user.id)))
        return sorted(ids)


def _vault_passphrase(settings: ServerSettings, data_dir: Path) -> str:
    if settings.vault_passphrase:
        return settings.vault_passphrase
    if os.environ.get("GENOMA_VAULT_PASSPHRASE"):
        return os.environ["GENOMA_VAULT_PASSPHRASE"]
    return read_or_create_secret(data_dir / "vault-passphrase")


def open_context(settings: ServerSettings, *, migrate: bool = True) -> ServerContext:
    """Open (and on first use create) the database, vault, audit log and secrets.

    Parameters
    ----------
    settings
        Server settings.
    migrate
        Run the Alembic migrations (``upgrade head``) first.
    """
    data_dir = settings.resolved_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / "tmp").mkdir(exist_ok=True, mode=0o700)
    url = settings.resolved_database_url()
    engine = db.make_engine(url)
    if migrate:
        db.migrate(engine)
    passphrase = _vault_passphrase(settings, data_dir)
    vroot = data_dir / "vault"
    vault = (
        Vault(vroot, passphrase)
        if (vroot / "vault.json").is_file()
        else Vault.init(vroot, passphrase)
    )
    audit_hex = os.environ.get("GENOMA_AUDIT_KEY") or read_or_create_secret(data_dir / "audit.key")
    audit = AuditLog(data_dir / "audit.log", bytes.fromhex(audit_hex))
    return ServerContext(
        settings=settings,
        data_dir=data_dir,
        engine=engine,
        sessions=db.session_factory(engine),
        vault=vault,
        audit=audit,
        token_secret=read_or_create_secret(data_dir / "jwt-secret"),
        dialect=engine.dialect.name,
        vault_passphrase=passphrase,
        cache=PlaintextCache(settings.report_cache_bytes),
    )
