"""Who may do what with which data, for which purpose: roles, grants, care teams, consent.

A :class:`Policy` holds users (with roles), datasets (with grants of actions to users or
roles) and subjects (with their DUO consent, care team and patient account). Every
request names a user, an action, a dataset, the subject concerned and a declared
:class:`~genoma.privacy.consent.Purpose`. :func:`authorize` applies the rules in order and
returns a :class:`Decision`; :class:`AccessController` also writes the audit entry and
raises :class:`~genoma.errors.ConsentDeniedError` (exit 7, HTTP 403) on denial.

Rules
-----
R1  The user must be known.
R2  Some role of the user must allow the action (:data:`ROLE_ACTIONS`).
R3  The dataset must exist and grant the action to the user or one of their roles
    (``admin`` holds write/share/admin on every dataset; data access still needs R3).
R4  Reads and exports need a purpose some role of the user may declare
    (:data:`ROLE_PURPOSES`); exports are for research only.
R5  ``self``: only the subject's own patient account.
R6  ``clinical_care``: only members of the subject's care team.
R7  ``clinical_use`` / ``research``: the subject's consent must allow the purpose
    (:func:`~genoma.privacy.consent.check_consent`); no consent record → denied. Data
    without a subject use the dataset's own consent codes, if any.
R8  Facts about the requester (institution, region, not-for-profit status) come from the
    policy, not from the request.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from genoma.errors import ConsentDeniedError, InputMissingError, MalformedInputError
from genoma.privacy.audit import AuditLog
from genoma.privacy.consent import ConsentRecord, Purpose, check_consent

__all__ = [
    "ACTIONS",
    "ROLES",
    "ROLE_ACTIONS",
    "ROLE_PURPOSES",
    "AccessController",
    "Dataset",
    "Decision",
    "Policy",
    "Subject",
    "User",
    "authorize",
    "export_cohort",
    "guarded_get",
    "record_outcome",
]

ROLES = ("clinician", "analyst", "researcher", "patient", "admin")
ACTIONS = ("read", "write", "share", "export", "admin")
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "clinician": frozenset({"read", "write"}),
    "analyst": frozenset({"read", "write"}),
    "researcher": frozenset({"read", "export"}),
    "patient": frozenset({"read"}),
    "admin": frozenset({"read", "write", "share", "export", "admin"}),
}
ROLE_PURPOSES: dict[str, frozenset[str]] = {
    "clinician": frozenset({"clinical_care", "clinical_use", "research"}),
    "analyst": frozenset({"clinical_care", "clinical_use", "research"}),
    "researcher": frozenset({"research"}),
    "patient": frozenset({"self"}),
    "admin": frozenset({"clinical_use", "research"}),
}
_DATA_ACTIONS = frozenset({"read", "export"})


@dataclass(frozen=True)
class User:
    """A user of genoma with roles and the facts consent modifiers check."""

    name: str
    roles: frozenset[str]
    institution: str | None = None
    region: str | None = None
    not_for_profit: bool | None = None


@dataclass(frozen=True)
class Dataset:
    """A dataset: grants of actions to ``user:<name>`` or ``role:<role>`` principals."""

    name: str
    grants: dict[str, frozenset[str]] = field(default_factory=dict)
    consent: ConsentRecord | None = None


@dataclass(frozen=True)
class Subject:
    """A data subject: consent, care team, and their own patient account (if any)."""

    id: str
    consent: ConsentRecord | None = None
    care_team: frozenset[str] = frozenset()
    account: str | None = None


@dataclass(frozen=True)
class Decision:
    """Outcome of :func:`authorize`: allowed, or the reasons (rule ids included) why not."""

    allowed: bool
    reasons: tuple[str, ...] = ()


@dataclass
class Policy:
    """Users, datasets and subjects (loaded from JSON or YAML with :meth:`load`)."""

    users: dict[str, User] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, path: str | None = None) -> Policy:
        """Build from a mapping (see ``docs/privacy.md`` for the layout).

        Raises
        ------
        MalformedInputError
            On unknown roles or actions, or a malformed entry.
        """
        try:
            users = {}
            for name, u in (d.get("users") or {}).items():
                roles = frozenset(u.get("roles") or [])
                bad = roles - set(ROLES)
                if bad:
                    raise MalformedInputError(
                        f"user {name}: unknown roles {sorted(bad)}", path=path
                    )
                users[name] = User(
                    name=name,
                    roles=roles,
                    institution=u.get("institution"),
                    region=u.get("region"),
                    not_for_profit=u.get("not_for_profit"),
                )
            datasets = {}
            for name, ds in (d.get("datasets") or {}).items():
                grants = {}
                for principal, actions in (ds.get("grants") or {}).items():
                    acts = frozenset(actions)
                    bad = acts - set(ACTIONS)
                    if bad or not principal.startswith(("user:", "role:")):
                        raise MalformedInputError(
                            f"dataset {name}: bad grant {principal}: {sorted(actions)}", path=path
                        )
                    grants[principal] = acts
                consent = ds.get("consent")
                datasets[name] = Dataset(
                    name=name,
                    grants=grants,
                    consent=ConsentRecord.from_dict({"subject": f"dataset:{name}", **consent})
                    if consent
                    else None,
                )
            subjects = {}
            for sid, s in (d.get("subjects") or {}).items():
                consent = s.get("consent")
                subjects[sid] = Subject(
                    id=sid,
                    consent=ConsentRecord.from_dict({"subject": sid, **consent})
                    if consent is not None
                    else None,
                    care_team=frozenset(s.get("care_team") or []),
                    account=s.get("account"),
                )
        except MalformedInputError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedInputError(f"malformed access policy: {exc}", path=path) from exc
        return cls(users=users, datasets=datasets, subjects=subjects)

    @classmethod
    def load(cls, path: Path) -> Policy:
        """Read a policy file (``.json``, ``.yaml`` or ``.yml``)."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputMissingError(
                f"cannot read access policy: {exc.strerror}", path=path
            ) from exc
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text) or {}
            else:
                data = json.loads(text)
        except Exception as exc:  # json.JSONDecodeError or yaml.YAMLError
            raise MalformedInputError(f"unreadable access policy: {exc}", path=path) from exc
        return cls.from_dict(data, path=str(path))


def authorize(
    policy: Policy,
    user: str,
    action: str,
    *,
    dataset: str,
    subject: str | None = None,
    purpose: Purpose | None = None,
) -> Decision:
    """Apply rules R1–R8 (module docstring) to one request.

    Parameters
    ----------
    policy
        The access policy.
    user
        Requesting user name.
    action
        One of :data:`ACTIONS`.
    dataset
        Dataset of the data concerned.
    subject
        Subject the data describe (``None`` for data not about one subject).
    purpose
        Declared purpose; required for ``read`` and ``export``.

    Returns
    -------
    Decision
    """
    reasons: list[str] = []
    u = policy.users.get(user)
    if u is None:
        return Decision(False, (f"R1: unknown user {user!r}",))
    if action not in ACTIONS:
        return Decision(False, (f"R2: unknown action {action!r}",))
    if not any(action in ROLE_ACTIONS[r] for r in u.roles):
        return Decision(False, (f"R2: roles {sorted(u.roles)} may not {action}",))
    ds = policy.datasets.get(dataset)
    if ds is None:
        return Decision(False, (f"R3: unknown dataset {dataset!r}",))
    principals = {f"user:{user}"} | {f"role:{r}" for r in u.roles}
    granted = any(action in ds.grants.get(p, frozenset()) for p in principals)
    if not granted and "admin" in u.roles and action in ("write", "share", "admin"):
        granted = True
    if not granted:
        return Decision(False, (f"R3: dataset {dataset!r} does not grant {action} to {user!r}",))
    if action not in _DATA_ACTIONS:
        return Decision(True)
    if purpose is None:
        return Decision(False, ("R4: a declared purpose is required to access data",))
    if not any(purpose.kind in ROLE_PURPOSES[r] for r in u.roles):
        return Decision(
            False, (f"R4: roles {sorted(u.roles)} may not declare purpose {purpose.kind}",)
        )
    if action == "export" and purpose.kind != "research":
        return Decision(False, ("R4: exports are for research purposes only",))
    subj = policy.subjects.get(subject) if subject else None
    if subject and subj is None:
        return Decision(
            False, (f"R5-R7: subject {subject!r} is not in the policy (no consent on record)",)
        )
    if purpose.kind == "self":
        if subj is None or subj.account != user:
            reasons.append("R5: patients may read only their own data")
    elif purpose.kind == "clinical_care":
        if subj is None or user not in subj.care_team:
            reasons.append(f"R6: {user!r} is not in the care team of {subject!r}")
    else:
        consent = subj.consent if subj is not None else ds.consent
        if consent is None:
            reasons.append(f"R7: no consent on record for {subject or 'dataset ' + dataset!r}")
        else:
            p = dataclasses.replace(
                purpose,
                institution=u.institution or purpose.institution,
                region=u.region or purpose.region,
                not_for_profit=purpose.not_for_profit
                if u.not_for_profit is None
                else u.not_for_profit,
            )
            reasons += [f"R7: {r}" for r in check_consent(consent, p, user=user)]
    return Decision(not reasons, tuple(reasons))


class AccessController:
    """Authorizes requests and records every decision in the audit log.

    Parameters
    ----------
    policy
        The access policy.
    audit
        Where decisions and outcomes are recorded.
    """

    def __init__(self, policy: Policy, audit: AuditLog) -> None:
        self.policy = policy
        self.audit = audit

    def require(
        self,
        user: str,
        action: str,
        *,
        resource: str,
        dataset: str,
        subject: str | None = None,
        purpose: Purpose | None = None,
        request_id: str | None = None,
    ) -> str:
        """Allow the request or audit the denial and raise.

        Returns
        -------
        str
            The request id (pass it to :meth:`record` with the outcome).

        Raises
        ------
        ConsentDeniedError
            If :func:`authorize` denies; the audit entry is written first.
        """
        rid = request_id or uuid.uuid4().hex
        d = authorize(self.policy, user, action, dataset=dataset, subject=subject, purpose=purpose)
        if not d.allowed:
            self.audit.append(
                actor=user,
                action=action,
                resource=resource,
                purpose=purpose.label() if purpose else None,
                outcome="denied",
                request_id=rid,
                detail="; ".join(d.reasons),
            )
            raise ConsentDeniedError(f"{user} may not {action} {resource}: " + "; ".join(d.reasons))
        return rid

    def record(
        self,
        user: str,
        action: str,
        *,
        resource: str,
        purpose: Purpose | None,
        outcome: str,
        request_id: str,
        detail: str | None = None,
    ) -> None:
        """Record the outcome of an allowed request."""
        record_outcome(self.audit, user, action, resource=resource, purpose=purpose,
                       outcome=outcome, request_id=request_id, detail=detail)


def record_outcome(
    audit: Any,
    user: str,
    action: str,
    *,
    resource: str,
    purpose: Purpose | None,
    outcome: str,
    request_id: str,
    detail: str | None = None,
) -> None:
    """Append the outcome of an allowed request to ``audit`` (an :class:`AuditLog`)."""
    audit.append(
        actor=user,
        action=action,
        resource=resource,
        purpose=purpose.label() if purpose else None,
        outcome=outcome,
        request_id=request_id,
        detail=detail,
    )


def guarded_get(
    vault: Any,
    controller: AccessController,
    *,
    user: str,
    object_id: str,
    purpose: Purpose,
    dest: BinaryIO | Path,
    key: Any = None,
    force: bool = False,
) -> Any:
    """Authorize, decrypt and audit one vault read.

    Parameters
    ----------
    vault
        A :class:`genoma.privacy.vault.Vault`.
    controller
        Policy + audit log.
    user
        Requesting user.
    object_id
        The object.
    purpose
        Declared purpose.
    dest
        A binary stream, or a path (written atomically, verified before it appears).
    key
        The user's :class:`~genoma.privacy.keys.KeyPair`, or ``None`` for a service read.
    force
        Overwrite ``dest`` if it is an existing path.

    Returns
    -------
    ObjectManifest

    Raises
    ------
    ConsentDeniedError
        When denied (audited); ``IntegrityError`` when the object fails verification
        (audited as ``failure``).
    """
    from genoma.errors import GenomaError

    m = vault.manifest(object_id)
    resource = f"vault:{object_id}"
    rid = controller.require(
        user, "read", resource=resource, dataset=m.dataset, subject=m.subject, purpose=purpose
    )
    try:
        if isinstance(dest, (str, Path)):
            out = vault.get_to_file(object_id, Path(dest), key=key, force=force)
        else:
            out = vault.get(object_id, dest, key=key)
    except GenomaError as exc:
        controller.record(
            user,
            "read",
            resource=resource,
            purpose=purpose,
            outcome="failure",
            request_id=rid,
            detail=exc.problem,
        )
        raise
    controller.record(
        user, "read", resource=resource, purpose=purpose, outcome="success", request_id=rid
    )
    return out


def export_cohort(
    controller: AccessController,
    *,
    user: str,
    dataset: str,
    src: Path,
    dst: Path,
    pseudonymiser: Any,
    purpose: Purpose,
    drop_info: tuple[str, ...] = (),
    keep_info: tuple[str, ...] | None = None,
    min_ac: int | None = None,
    drop_ids: bool = False,
    resource: str | None = None,
) -> Any:
    """De-identified research export of a multi-sample VCF, sample by sample consent.

    Each VCF sample is taken as the subject id. Samples whose consent does not allow
    ``purpose`` (or that are not in the policy) are left out; the export, with the
    number of samples included and excluded, is audited.

    Parameters
    ----------
    controller
        Policy + audit log.
    user
        Requesting user (needs ``export`` on ``dataset``).
    dataset
        Dataset the VCF belongs to.
    src, dst
        Input VCF and output path (see :func:`genoma.privacy.pseudonym.deidentify_vcf`).
    pseudonymiser
        A :class:`genoma.privacy.pseudonym.Pseudonymiser` (keep its mapping encrypted).
    purpose
        Declared research purpose.
    drop_info, keep_info
        INFO fields to drop / the only ones to keep.
    min_ac
        Drop records with an ALT allele carried fewer than ``min_ac`` times by the
        exported samples (see :func:`genoma.privacy.pseudonym.deidentify_vcf`).
    drop_ids
        Blank the ID column.
    resource
        Resource name for the audit log (default ``file:<name of src>``; the CLI passes
        ``vault:<object id>`` when exporting a vault object).

    Returns
    -------
    tuple
        ``(ExportResult, excluded)``: what was written and the excluded samples with
        their reasons.

    Raises
    ------
    ConsentDeniedError
        If the user may not export at all, or no sample's consent allows the purpose.
    """
    import pysam

    from genoma.privacy.pseudonym import deidentify_vcf, quiet_htslib

    resource = resource or f"file:{Path(src).name}"
    rid = uuid.uuid4().hex
    try:
        with quiet_htslib(), pysam.VariantFile(str(src)) as vf:
            samples = list(vf.header.samples)
    except (OSError, ValueError) as exc:
        raise MalformedInputError(f"cannot read VCF: {exc}", path=src) from exc
    allowed: list[str] = []
    excluded: dict[str, tuple[str, ...]] = {}
    for s in samples:
        d = authorize(
            controller.policy, user, "export", dataset=dataset, subject=s, purpose=purpose
        )
        if d.allowed:
            allowed.append(s)
        else:
            excluded[s] = d.reasons
    if not allowed:
        controller.record(
            user,
            "export",
            resource=resource,
            purpose=purpose,
            outcome="denied",
            request_id=rid,
            detail=f"no sample's consent allows this purpose ({len(excluded)} excluded)",
        )
        raise ConsentDeniedError(
            f"no sample of {src} may be exported for {purpose.label()}", path=src
        )
    result = deidentify_vcf(
        src,
        dst,
        pseudonymiser,
        samples=allowed,
        drop_info=drop_info,
        keep_info=keep_info,
        drop_ids=drop_ids,
        min_ac=min_ac,
    )
    controller.record(
        user,
        "export",
        resource=resource,
        purpose=purpose,
        outcome="success",
        request_id=rid,
        detail=(
            f"{len(allowed)} samples exported (pseudonymised), {len(excluded)} excluded by "
            f"consent, {result.records} records, {result.dropped_rare} dropped (min_ac={min_ac})"
        ),
    )
    return result, excluded
