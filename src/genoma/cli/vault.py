"""``genoma vault``: the encrypted store (Crypt4GH) behind access control and audit.

Thin: every command calls :mod:`genoma.privacy`. Secrets come from the environment or a
prompt, never from the command line: ``GENOMA_VAULT_PASSPHRASE`` (service key),
``GENOMA_KEY_PASSPHRASE`` (a user's private key), ``GENOMA_AUDIT_KEY`` (audit HMAC key,
hex) or ``--audit-key FILE``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from genoma.cli._common import emit_json, handle_errors

__all__ = ["app"]

app = typer.Typer(
    name="vault",
    help="Encrypted vault: put, get, share, rotate, verify, ls (Crypt4GH at rest).",
    no_args_is_help=True,
)

_VAULT_ARG = typer.Argument(..., help="The vault directory.")
_AS = typer.Option(..., "--as", help="Acting user (must be in the access policy).")
_POLICY = typer.Option(
    None, "--policy", help="Access policy (default: VAULT/policy.yaml or .json)."
)
_AUDIT = typer.Option(None, "--audit", help="Audit log (default: VAULT/audit.jsonl).")
_AUDIT_KEY = typer.Option(
    None, "--audit-key", help="Audit key file (hex); default $GENOMA_AUDIT_KEY."
)


def _secret(env: str, prompt: str, *, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        from genoma.errors import UsageError

        raise UsageError(f"set ${env} (no terminal to prompt for the {prompt})")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def _controller(
    vault: Path, policy: Path | None, audit: Path | None, audit_key: Path | None
) -> Any:
    from genoma.errors import ConsentDeniedError
    from genoma.privacy.access import AccessController, Policy
    from genoma.privacy.audit import AuditLog, load_audit_key

    if policy is None:
        found = [
            p
            for p in (vault / "policy.yaml", vault / "policy.yml", vault / "policy.json")
            if p.is_file()
        ]
        if not found:
            raise ConsentDeniedError(
                "no access policy (give --policy or put VAULT/policy.yaml): access denied"
            )
        policy = found[0]
    return AccessController(
        Policy.load(policy), AuditLog(audit or vault / "audit.jsonl", load_audit_key(audit_key))
    )


def _audited(
    ctl: Any, user: str, action: str, resource: str, dataset: str, subject: str | None = None
) -> Any:
    """Authorize a non-read action; returns a callback recording the outcome."""
    rid = ctl.require(user, action, resource=resource, dataset=dataset, subject=subject)

    def done(outcome: str, detail: str | None = None) -> None:
        ctl.record(
            user,
            action,
            resource=resource,
            purpose=None,
            outcome=outcome,
            request_id=rid,
            detail=detail,
        )

    return done


def _run_audited(done: Any, fn: Any) -> Any:
    from genoma.errors import GenomaError

    try:
        result = fn()
    except GenomaError as exc:
        done("failure", exc.problem)
        raise
    done("success")
    return result


@app.command("init")
@handle_errors
def init_cmd(vault: Path = _VAULT_ARG, json_out: bool = typer.Option(False, "--json")) -> None:
    """Create a vault with a new service key pair (passphrase: $GENOMA_VAULT_PASSPHRASE)."""
    from genoma.privacy.vault import Vault

    v = Vault.init(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase", confirm=True))
    if json_out:
        emit_json({"vault": str(vault), "service_key": v.current_service_fp})


@app.command("keygen")
@handle_errors
def keygen_cmd(
    secret: Path = typer.Argument(..., help="Private key file to write (Crypt4GH format)."),
    public: Path = typer.Argument(..., help="Public key file to write."),
    comment: str | None = typer.Option(None, "--comment"),
) -> None:
    """Create a user key pair; the private key is protected by $GENOMA_KEY_PASSPHRASE."""
    from genoma.privacy.keys import generate_keypair

    generate_keypair(
        secret, public, _secret("GENOMA_KEY_PASSPHRASE", "key passphrase", confirm=True), comment
    )


@app.command("adduser")
@handle_errors
def adduser_cmd(
    vault: Path = _VAULT_ARG,
    name: str = typer.Argument(..., help="User name (as in the access policy)."),
    public: Path = typer.Argument(..., help="The user's Crypt4GH public key."),
) -> None:
    """Register a user's public key in the vault."""
    from genoma.privacy.keys import load_public_key
    from genoma.privacy.vault import Vault

    Vault(vault).add_user(name, load_public_key(public))


@app.command("put")
@handle_errors
def put_cmd(
    vault: Path = _VAULT_ARG,
    source: Path = typer.Argument(..., help="File to encrypt into the vault ('-' for stdin)."),
    object_id: str | None = typer.Option(None, "--id", help="Object id (default: file name)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset of the object."),
    subject: str | None = typer.Option(None, "--subject", help="Subject the data describe."),
    to: str | None = typer.Option(
        None, "--to", help="Comma-separated users to share with at once."
    ),
    user: str = _AS,
    force: bool = typer.Option(False, "--force", help="Replace an existing object."),
    policy: Path | None = _POLICY,
    audit: Path | None = _AUDIT,
    audit_key: Path | None = _AUDIT_KEY,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Encrypt a file into the vault (streamed; no plaintext copy on disk)."""
    from genoma.errors import InputMissingError, UsageError
    from genoma.privacy.vault import Vault

    oid = object_id or (source.name if str(source) != "-" else None)
    if oid is None:
        raise UsageError("--id is required when reading stdin")
    ctl = _controller(vault, policy, audit, audit_key)
    done = _audited(ctl, user, "write", f"vault:{oid}", dataset, subject)
    v = Vault(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase"))
    recipients = [u for u in (to or "").split(",") if u]

    def run() -> Any:
        if str(source) == "-":
            return v.put(
                oid,
                sys.stdin.buffer,
                dataset=dataset,
                subject=subject,
                recipients=recipients,
                overwrite=force,
            )
        try:
            fh = open(source, "rb")
        except OSError as exc:
            raise InputMissingError(f"cannot read: {exc.strerror}", path=source) from exc
        with fh:
            return v.put(
                oid, fh, dataset=dataset, subject=subject, recipients=recipients, overwrite=force
            )

    m = _run_audited(done, run)
    if json_out:
        emit_json(m.public_summary())


@app.command("get")
@handle_errors
def get_cmd(
    vault: Path = _VAULT_ARG,
    object_id: str = typer.Argument(..., help="Object id."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Output file (default: stdout)."),
    user: str = _AS,
    purpose: str = typer.Option(
        ...,
        "--purpose",
        help="clinical_care | clinical_use | self | research[:health|:disease:ID|:ancestry|:methods]",
    ),
    key: Path | None = typer.Option(
        None,
        "--key",
        help="Your Crypt4GH private key (passphrase $GENOMA_KEY_PASSPHRASE); default: service read.",
    ),
    irb: bool = typer.Option(False, "--irb", help="Ethics approval documented."),
    commercial: bool = typer.Option(False, "--commercial", help="Commercial use."),
    accepts: str = typer.Option("", "--accept", help="Accepted conditions: PUB,COL,RTN,MOR."),
    project: str | None = typer.Option(None, "--project"),
    force: bool = typer.Option(False, "--force", help="Overwrite --out."),
    policy: Path | None = _POLICY,
    audit: Path | None = _AUDIT,
    audit_key: Path | None = _AUDIT_KEY,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Decrypt an object after access and consent checks; verified against its manifest."""
    from genoma.errors import ConsentDeniedError
    from genoma.privacy.access import guarded_get
    from genoma.privacy.consent import Purpose
    from genoma.privacy.keys import load_private_key
    from genoma.privacy.vault import Vault

    p = Purpose.parse(
        purpose,
        irb_approved=irb,
        commercial=commercial,
        accepts=frozenset(a.strip().upper() for a in accepts.split(",") if a.strip()),
        project=project,
    )
    ctl = _controller(vault, policy, audit, audit_key)
    if key is not None:
        pair = load_private_key(key, _secret("GENOMA_KEY_PASSPHRASE", "key passphrase"))
        v = Vault(vault)
        if user not in v.users() or v.user_key(user) != pair.public:
            ctl.audit.append(
                actor=user,
                action="read",
                resource=f"vault:{object_id}",
                purpose=p.label(),
                outcome="denied",
                detail="key is not the registered key of this user",
            )
            raise ConsentDeniedError(f"this key is not the registered key of {user!r}", path=key)
    else:
        pair = None
        v = Vault(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase"))
    dest: Any = out if out is not None else sys.stdout.buffer
    m = guarded_get(
        v, ctl, user=user, object_id=object_id, purpose=p, dest=dest, key=pair, force=force
    )
    if json_out and out is not None:
        emit_json(m.public_summary())


@app.command("share")
@handle_errors
def share_cmd(
    vault: Path = _VAULT_ARG,
    object_id: str = typer.Argument(..., help="Object id."),
    to: str = typer.Option(..., "--to", help="Registered user to add (or remove with --revoke)."),
    revoke: bool = typer.Option(False, "--revoke", help="Remove the user's header packet."),
    rekey: bool = typer.Option(
        False,
        "--rekey",
        help="With --revoke: also re-encrypt the data under a new session key (a revoked "
        "user who kept the old session key can then decrypt nothing the vault holds).",
    ),
    user: str = _AS,
    policy: Path | None = _POLICY,
    audit: Path | None = _AUDIT,
    audit_key: Path | None = _AUDIT_KEY,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Add (or revoke) a recipient by header re-encryption; data segments untouched.

    --revoke --rekey also re-encrypts the data with a fresh session key.
    """
    from genoma.errors import UsageError
    from genoma.privacy.vault import Vault

    if rekey and not revoke:
        raise UsageError("--rekey goes with --revoke (or use `genoma vault rekey`)")
    v = Vault(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase"))
    m0 = v.manifest(object_id)
    ctl = _controller(vault, policy, audit, audit_key)
    verb = ("revoke+rekey" if rekey else "revoke") if revoke else "share"
    done = _audited(ctl, user, "share", f"vault:{object_id}", m0.dataset, m0.subject)
    m = _run_audited(
        lambda outcome, detail=None: done(outcome, detail or f"{verb} {to}"),
        lambda: v.revoke(object_id, to, rekey=rekey) if revoke else v.share(object_id, to),
    )
    if json_out:
        emit_json({"action": verb, "user": to, **m.public_summary()})


@app.command("rekey")
@handle_errors
def rekey_cmd(
    vault: Path = _VAULT_ARG,
    object_id: str = typer.Argument(..., help="Object id."),
    user: str = _AS,
    policy: Path | None = _POLICY,
    audit: Path | None = _AUDIT,
    audit_key: Path | None = _AUDIT_KEY,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Re-encrypt an object's data under a new session key (same recipients, verified)."""
    from genoma.privacy.vault import Vault

    v = Vault(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase"))
    m0 = v.manifest(object_id)
    ctl = _controller(vault, policy, audit, audit_key)
    done = _audited(ctl, user, "share", f"vault:{object_id}", m0.dataset, m0.subject)
    m = _run_audited(
        lambda outcome, detail=None: done(outcome, detail or "rekey"), lambda: v.rekey(object_id)
    )
    if json_out:
        emit_json({"action": "rekey", **m.public_summary()})


@app.command("rotate")
@handle_errors
def rotate_cmd(
    vault: Path = _VAULT_ARG,
    user: str = _AS,
    policy: Path | None = _POLICY,
    audit: Path | None = _AUDIT,
    audit_key: Path | None = _AUDIT_KEY,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Rotate the service key: new key pair, every header re-encrypted, old key deleted.

    The new key is protected by $GENOMA_VAULT_NEW_PASSPHRASE if set, else the current one.
    """
    from genoma.errors import ConsentDeniedError
    from genoma.privacy.vault import Vault

    ctl = _controller(vault, policy, audit, audit_key)
    u = ctl.policy.users.get(user)
    if u is None or "admin" not in u.roles:
        ctl.audit.append(
            actor=user,
            action="admin",
            resource="vault",
            purpose=None,
            outcome="denied",
            detail="rotate needs the admin role",
        )
        raise ConsentDeniedError(f"{user} may not rotate keys: admin role required")
    rid = ctl.audit.append(
        actor=user,
        action="admin",
        resource="vault",
        purpose=None,
        outcome="success",
        detail="rotate: started",
    )["request_id"]
    v = Vault(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase"))

    def done(outcome: str, detail: str | None = None) -> None:
        ctl.record(
            user,
            "admin",
            resource="vault",
            purpose=None,
            outcome=outcome,
            request_id=rid,
            detail=detail or "rotate: finished",
        )

    result = _run_audited(
        done, lambda: v.rotate(os.environ.get("GENOMA_VAULT_NEW_PASSPHRASE") or None)
    )
    if json_out:
        emit_json(result)


@app.command("verify")
@handle_errors
def verify_cmd(
    vault: Path = _VAULT_ARG,
    object_id: str | None = typer.Argument(None, help="One object (default: all)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Decrypt and check objects against their manifests (service passphrase); exit 4 on failure."""
    from genoma.cli._common import console
    from genoma.privacy.vault import IntegrityError, Vault

    v = Vault(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase"))
    results = v.verify(object_id)
    bad = [r for r in results if not r.ok]
    if json_out:
        emit_json(
            {
                "ok": not bad,
                "objects": [{"id": r.id, "ok": r.ok, "problems": r.problems} for r in results],
            }
        )
    else:
        for r in results:
            console.print(
                f"{'ok ' if r.ok else 'BAD'} {r.id}" + "".join(f"\n    {p}" for p in r.problems),
                highlight=False,
                markup=False,
            )
    if bad:
        raise IntegrityError(
            f"{len(bad)} object(s) failed verification: {', '.join(r.id for r in bad)}", path=vault
        )


@app.command("ls")
@handle_errors
def ls_cmd(vault: Path = _VAULT_ARG, json_out: bool = typer.Option(False, "--json")) -> None:
    """List objects (id, dataset, size, recipients); no key needed."""
    from genoma.privacy.vault import Vault

    rows = [m.public_summary() for m in Vault(vault).list()]
    if json_out:
        emit_json({"objects": rows})
        return
    for r in rows:
        typer.echo(
            f"{r['id']}\t{r['dataset']}\t{r['size']}\t{','.join(r['recipients'])}\tv{r['version']}"
        )


_PSEUDO_KEY = typer.Option(
    None,
    "--pseudonym-key",
    help="Pseudonymisation secret file (hex, >= 32 bytes); default $GENOMA_PSEUDONYM_KEY.",
)
_MAPPING = typer.Option(
    ...,
    "--mapping",
    help="Encrypted re-identification mapping: created, or extended if it exists (same "
    "key and study). Keep it with the key holder, not with the export.",
)


@app.command("export")
@handle_errors
def export_cmd(
    vault: Path = _VAULT_ARG,
    source: str = typer.Argument(
        ..., help="Cohort VCF: a vault object id, or a plaintext file with --file."
    ),
    out: Path = typer.Option(..., "-o", "--out", help="De-identified VCF (.vcf, .vcf.gz, .bcf)."),
    user: str = _AS,
    study: str = typer.Option(..., "--study", help="Study: pseudonyms differ between studies."),
    mapping: Path = _MAPPING,
    from_file: bool = typer.Option(
        False, "--file", help="SOURCE is a plaintext VCF file, not a vault object."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="Dataset of a --file input (vault objects: their own)."
    ),
    purpose: str = typer.Option(
        "research", "--purpose", help="research[:health|:disease:ID|:ancestry|:methods]"
    ),
    irb: bool = typer.Option(False, "--irb", help="Ethics approval documented."),
    commercial: bool = typer.Option(False, "--commercial", help="Commercial use."),
    accepts: str = typer.Option("", "--accept", help="Accepted conditions: PUB,COL,RTN,MOR."),
    project: str | None = typer.Option(None, "--project"),
    min_ac: int = typer.Option(
        1,
        "--min-ac",
        help="Drop records with an ALT allele carried fewer than K times by the exported "
        "samples (1: sites absent from them; 5: also rare variants); 0 keeps all.",
    ),
    drop_info: str = typer.Option("", "--drop-info", help="Comma-separated INFO fields to drop."),
    keep_info: str | None = typer.Option(
        None, "--keep-info", help="Comma-separated INFO fields to keep (all others dropped)."
    ),
    drop_ids: bool = typer.Option(False, "--drop-ids", help="Blank the ID column."),
    pseudonym_key: Path | None = _PSEUDO_KEY,
    force: bool = typer.Option(False, "--force", help="Overwrite --out."),
    policy: Path | None = _POLICY,
    audit: Path | None = _AUDIT,
    audit_key: Path | None = _AUDIT_KEY,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Pseudonymised, de-identified research export of a cohort VCF (consent-checked).

    Only samples whose consent (GA4GH DUO) allows the declared research purpose are
    exported, under keyed pseudonyms; the header is scrubbed; rare variants can be
    dropped (--min-ac). The export (or its denial) is written to the audit log.
    """
    from genoma.errors import InputMissingError, UsageError
    from genoma.privacy.access import export_cohort
    from genoma.privacy.consent import Purpose
    from genoma.privacy.pseudonym import Pseudonymiser, load_pseudonym_key

    if out.exists() and not force:
        raise UsageError("output exists (use --force)", path=out)
    if min_ac < 0:
        raise UsageError("--min-ac must be >= 0")
    p = Purpose.parse(
        purpose,
        irb_approved=irb,
        commercial=commercial,
        accepts=frozenset(a.strip().upper() for a in accepts.split(",") if a.strip()),
        project=project,
    )
    key = load_pseudonym_key(pseudonym_key)
    ps = (
        Pseudonymiser.load_mapping(mapping, key, study)
        if mapping.exists()
        else Pseudonymiser(key, study=study)
    )
    ctl = _controller(vault, policy, audit, audit_key)
    tmp_out = out.with_name(f".{out.name}.export{''.join(out.suffixes)}")
    tmp_out.unlink(missing_ok=True)
    opts: dict[str, Any] = {
        "pseudonymiser": ps,
        "purpose": p,
        "drop_info": tuple(x for x in drop_info.split(",") if x),
        "keep_info": tuple(x for x in keep_info.split(",") if x) if keep_info else None,
        "min_ac": min_ac or None,
        "drop_ids": drop_ids,
    }
    try:
        if from_file:
            src = Path(source)
            if not src.is_file():
                raise InputMissingError("VCF not found", path=src)
            if dataset is None:
                raise UsageError("--dataset is required with --file")
            res, excluded = export_cohort(
                ctl, user=user, dataset=dataset, src=src, dst=tmp_out, **opts
            )
        else:
            from genoma.privacy.vault import Vault

            v = Vault(vault, _secret("GENOMA_VAULT_PASSPHRASE", "service passphrase"))
            m = v.manifest(source)
            with v.plaintext_file(source) as plain:
                res, excluded = export_cohort(
                    ctl,
                    user=user,
                    dataset=m.dataset,
                    src=plain,
                    dst=tmp_out,
                    resource=f"vault:{source}",
                    **opts,
                )
        ps.save_mapping(mapping)
        os.replace(tmp_out, out)
    finally:
        tmp_out.unlink(missing_ok=True)
    if json_out:
        emit_json(
            {
                "out": str(out),
                "study": study,
                "samples_exported": len(res.samples),
                "samples_excluded": len(excluded),  # a count: never who declined
                "records": res.records,
                "dropped_rare": res.dropped_rare,
                "min_ac": min_ac,
                "dropped_info": res.dropped_info,
                "recomputed_info": res.recomputed_info,
                "mapping": str(mapping),
            }
        )


@app.command("reidentify")
@handle_errors
def reidentify_cmd(
    vault: Path = _VAULT_ARG,
    pseudonyms: list[str] = typer.Argument(..., help="Pseudonyms to reverse."),
    mapping: Path = typer.Option(..., "--mapping", help="The export's encrypted mapping."),
    study: str = typer.Option(..., "--study"),
    dataset: str = typer.Option(
        ..., "--dataset", "-d", help="Dataset the export came from (needs admin on it)."
    ),
    user: str = _AS,
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    pseudonym_key: Path | None = _PSEUDO_KEY,
    policy: Path | None = _POLICY,
    audit: Path | None = _AUDIT,
    audit_key: Path | None = _AUDIT_KEY,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Reverse pseudonyms: key holder (the secret) with admin on the dataset; audited.

    Needs both the pseudonymisation secret (to open the mapping) and the ``admin``
    permission on the dataset (the data custodian); prints ``pseudonym<TAB>sample``.
    """
    from genoma.errors import GenomaError
    from genoma.privacy.pseudonym import Pseudonymiser, load_pseudonym_key

    ctl = _controller(vault, policy, audit, audit_key)
    resource = f"pseudonyms:{study}"
    rid = ctl.require(user, "admin", resource=resource, dataset=dataset)
    detail = f"reidentify {len(pseudonyms)} pseudonym(s): {reason}"
    try:
        ps = Pseudonymiser.load_mapping(mapping, load_pseudonym_key(pseudonym_key), study)
        found = {p: ps.reidentify(p) for p in pseudonyms}
    except GenomaError as exc:
        ctl.record(
            user,
            "admin",
            resource=resource,
            purpose=None,
            outcome="failure",
            request_id=rid,
            detail=f"{detail} -- {exc.problem}",
        )
        raise
    ctl.record(
        user, "admin", resource=resource, purpose=None, outcome="success", request_id=rid,
        detail=detail,
    )  # fmt: skip
    if json_out:
        emit_json({"study": study, "samples": found})
        return
    for p, sid in found.items():
        typer.echo(f"{p}\t{sid}")
