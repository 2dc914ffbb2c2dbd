"""``genoma serve``: the REST API, job workers and web app (uvicorn). Thin: see genoma.server."""

from __future__ import annotations

from pathlib import Path

import typer

from genoma.cli._common import console, handle_errors

__all__ = ["register", "serve"]


@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    database_url: str = typer.Option(
        None,
        "--database-url",
        envvar="GENOMA_DATABASE_URL",
        help="SQLAlchemy URL (default: SQLite under $GENOMA_HOME/server); "
        "e.g. postgresql+psycopg://user@host/db.",
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="Analysis jobs run at the same time."),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="Vault, audit log and secrets (default: $GENOMA_HOME/server)."
    ),
    max_upload_mb: int = typer.Option(2048, "--max-upload-mb", min=1, help="Upload size limit."),
    report_cache_mb: int = typer.Option(
        64,
        "--report-cache-mb",
        min=0,
        help="Memory for decrypted reports kept by the server (0: decrypt every read).",
    ),
) -> None:
    """Start the genoma server: API under /api/v1, web app at /."""
    import uvicorn

    from genoma.server.app import bootstrap_admin, create_app
    from genoma.server.settings import ServerSettings

    settings = ServerSettings(
        database_url=database_url,
        data_dir=data_dir,
        workers=workers,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        report_cache_bytes=report_cache_mb * 1024 * 1024,
    )
    app = create_app(settings)
    ctx = app.state.ctx
    password = bootstrap_admin(ctx)
    if password is not None:
        console.print(
            f"created user [bold]admin[/] with password [bold]{password}[/] "
            f"(also in {ctx.data_dir / 'admin-password'}, mode 0600)",
            highlight=False,
        )
    console.print(f"genoma server on http://{host}:{port}/ (database: {ctx.dialect})")
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add ``genoma serve`` to the CLI."""
    app.command("serve")(serve)
