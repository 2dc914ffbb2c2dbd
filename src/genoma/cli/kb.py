"""``genoma kb``: list, verify and install knowledge sources. Thin: logic is in genoma.kb."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from genoma.cli._common import console, emit_json, handle_errors

if TYPE_CHECKING:
    from genoma.kb.base import KnowledgeSource

app = typer.Typer(
    help="Knowledge sources: list, verify, install.",
    no_args_is_help=True,
)


def _status(src: KnowledgeSource) -> str:
    if not src.is_available():
        return "missing"
    return "embedded" if src.embedded else "installed"


@app.command("list")
@handle_errors
def list_(
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """List knowledge sources: name, version, license, builds, status."""
    from rich.console import Console
    from rich.table import Table

    from genoma.kb.base import all_sources

    rows = []
    for src in all_sources():
        rows.append(
            {
                "name": src.name,
                "title": src.title,
                "version": src.version,
                "license": src.license,
                "builds": list(src.builds),
                "status": _status(src),
                "source": src.source,
            }
        )
    if json_out:
        emit_json({"sources": rows})
        return
    table = Table(title="genoma knowledge sources")
    for col in ("name", "version", "license", "builds", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["name"], r["version"], r["license"], ",".join(r["builds"]) or "-", r["status"]
        )
    Console(soft_wrap=False).print(table)


@app.command()
@handle_errors
def verify(
    names: list[str] = typer.Argument(None, help="Sources to verify (default: all available)."),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Check checksums and that sources load; exit 6 if any fails."""
    from genoma.errors import GenomaError, KnowledgeError
    from genoma.kb import install as kbinstall
    from genoma.kb.base import all_sources, get_source

    if names:
        targets = [get_source(n) for n in names]
    else:
        targets = [s for s in all_sources() if s.embedded or s.is_available()]
    results = []
    failed = 0
    for src in targets:
        try:
            digest = kbinstall.verify(src.name)
            results.append({"name": src.name, "version": src.version, "ok": True, "sha256": digest})
            console.print(f"[green]ok[/]   {src.name} {src.version}  sha256 {digest[:16]}…")
        except GenomaError as err:
            failed += 1
            results.append({"name": src.name, "ok": False, "error": str(err)})
            console.print(f"[bold red]FAIL[/] {src.name}: {err}", highlight=False)
    if json_out:
        emit_json({"verified": results, "failed": failed})
    if failed:
        raise typer.Exit(KnowledgeError.exit_code)


@app.command()
@handle_errors
def install(
    name: str = typer.Argument(..., help="Source to install (see `genoma kb list`)."),
    version: str = typer.Option(None, "--version", help="Release version (default: newest)."),
    mirror: str = typer.Option(
        None, "--mirror", help="Mirror base URL or PREFIX=REPLACEMENT (else $GENOMA_KB_MIRROR)."
    ),
    sha256: str = typer.Option(None, "--sha256", help="Expected SHA-256 of the download."),
    force: bool = typer.Option(False, "--force", help="Re-download an installed release."),
    json_out: bool = typer.Option(False, "--json", help="JSON summary on stdout."),
) -> None:
    """Download, verify and record an official knowledge release."""
    from dataclasses import asdict

    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from genoma.kb.install import install as do_install

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"downloading {name}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        rec = do_install(name, version, mirror, force, sha256=sha256, progress=progress)
    console.print(f"[green]installed[/] {rec.name} {rec.version} → {rec.path}")
    if json_out:
        emit_json({"installed": asdict(rec), "path": str(rec.path)})
