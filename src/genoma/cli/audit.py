"""``genoma audit``: verify and anchor the hash-chained audit log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from genoma.cli._common import console, emit_json, handle_errors

__all__ = ["app"]

app = typer.Typer(
    name="audit", help="Tamper-evident audit log: verify, anchor, keygen.", no_args_is_help=True
)

_KEY = typer.Option(None, "--key", help="Audit key file (hex); default $GENOMA_AUDIT_KEY.")


@app.command("verify")
@handle_errors
def verify_cmd(
    log: Path = typer.Argument(..., help="The audit log (JSON lines)."),
    key: Path | None = _KEY,
    anchor: Path | None = typer.Option(
        None, "--anchor", help="An exported anchor (detects tail truncation)."
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Check every entry, link, MAC and sequence number; exit 4 naming the first bad line."""
    from genoma.errors import InputMissingError, MalformedInputError
    from genoma.privacy.audit import Anchor, load_audit_key, verify_log

    k = load_audit_key(key)
    a = None
    if anchor is not None:
        try:
            a = Anchor.from_dict(json.loads(anchor.read_text()))
        except OSError as exc:
            raise InputMissingError(f"cannot read anchor: {exc.strerror}", path=anchor) from exc
        except (ValueError, KeyError) as exc:
            raise MalformedInputError(f"malformed anchor: {exc}", path=anchor) from exc
    report = verify_log(log, k, anchor=a)
    if json_out:
        emit_json(report.to_dict())
    elif report.ok:
        console.print(f"ok: {report.entries} entries, head {report.head}", highlight=False)
    else:
        for p in report.problems:
            console.print(f"{log}:{p.line}: {p.problem}", highlight=False, markup=False)
    if not report.ok:
        first = report.problems[0]
        raise MalformedInputError(
            f"audit log failed verification ({len(report.problems)} problem(s)); first: {first.problem}",
            path=log,
            line=first.line or None,
        )


@app.command("anchor")
@handle_errors
def anchor_cmd(
    log: Path = typer.Argument(..., help="The audit log."),
    out: Path = typer.Option(..., "-o", "--out", help="Where to write the anchor (JSON)."),
    key: Path | None = _KEY,
) -> None:
    """Export the current head of the chain (keep it off the log's machine)."""
    from genoma.privacy.audit import AuditLog, load_audit_key

    a = AuditLog(log, load_audit_key(key)).anchor()
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_text(json.dumps(a.to_dict(), indent=2) + "\n")
    os.replace(tmp, out)


@app.command("keygen")
@handle_errors
def keygen_cmd(out: Path = typer.Argument(..., help="Key file to write (hex, mode 0600).")) -> None:
    """Create a random 256-bit audit key."""
    from genoma.errors import UsageError
    from genoma.privacy.audit import new_audit_key

    if out.exists():
        raise UsageError("refusing to overwrite an existing key", path=out)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_audit_key().hex() + "\n")
