"""The FastAPI application: ``create_app(settings)`` and ``create_user`` for seeding.

Routers (``/api/v1``): health, auth, users, patients (+ files), jobs (+ report, findings,
sign-off). OpenAPI at ``/api/v1/openapi.json``. The single-page web app in
``genoma/server/static`` (when present) is served at ``/``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from genoma import __version__
from genoma.errors import (
    ConsentDeniedError,
    GenomaError,
    InconsistentInputError,
    InputMissingError,
    MalformedInputError,
    UsageError,
)
from genoma.privacy.access import ROLES
from genoma.server import db
from genoma.server.context import ServerContext, open_context
from genoma.server.security import hash_password
from genoma.server.settings import ServerSettings

__all__ = ["API_PREFIX", "ServerSettings", "bootstrap_admin", "create_app", "create_user"]

API_PREFIX = "/api/v1"
STATIC_DIR = Path(__file__).parent / "static"
_log = logging.getLogger(__name__)

_STATUS = [
    (ConsentDeniedError, 403),
    (InputMissingError, 404),
    (InconsistentInputError, 422),
    (MalformedInputError, 422),
    (UsageError, 400),
]


def _status_of(exc: GenomaError) -> int:
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the app: open (and migrate) the database, vault, audit log and secrets.

    The worker pool starts with the app's lifespan (``with TestClient(app)`` or
    uvicorn) unless ``settings.run_jobs_inline``.

    Parameters
    ----------
    settings
        Server settings (defaults: SQLite and data under ``$GENOMA_HOME/server``).

    Returns
    -------
    FastAPI
    """
    from genoma.server.routers import auth, health, jobs, patients, users

    settings = settings or ServerSettings()
    ctx = open_context(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = None
        if not settings.run_jobs_inline:
            from genoma.server.jobs import WorkerPool

            pool = WorkerPool(ctx, settings.workers)
            ctx.extra["pool"] = pool
            pool.start()
        try:
            yield
        finally:
            if pool is not None:
                pool.stop()
                ctx.extra.pop("pool", None)

    app = FastAPI(
        title="genoma",
        version=__version__,
        description="genoma server: upload a patient's VCF and Phenopacket, run the analysis, "
        "read the report. OAuth2 password flow; roles, consent and audit from genoma.privacy.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx

    @app.exception_handler(GenomaError)
    async def _genoma_error(request: Request, exc: GenomaError) -> JSONResponse:
        code = _status_of(exc)
        if code == 500:
            _log.error("unhandled genoma error on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": exc.problem}, status_code=code)

    from sqlalchemy.exc import DataError

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # the database refused a value the schemas let through (e.g. NUL bytes in text,
        # which PostgreSQL rejects and SQLite stores): the client's input, not a server fault
        _log.info("rejected input on %s: %s", request.url.path, type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "invalid characters or value in the request"}, status_code=422
        )

    for r in (health.router, auth.router, users.router, patients.router, jobs.router):
        app.include_router(r, prefix=API_PREFIX)
    _mount_web(app)
    return app


def _mount_web(app: FastAPI) -> None:
    """Serve the web app: ``genoma.server.web.register(app)`` if present, else the static dir."""
    try:
        from genoma.server import web  # the web helper's module (optional)
    except ImportError:
        web = None  # type: ignore[assignment]
    if web is not None and hasattr(web, "register"):
        web.register(app)
        return
    if (STATIC_DIR / "index.html").is_file():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="web")


def _ctx_of(target: Any) -> ServerContext:
    if isinstance(target, ServerContext):
        return target
    if isinstance(target, FastAPI):
        return target.state.ctx
    raise TypeError(f"expected a FastAPI app, a ServerContext or a Session, not {type(target)}")


def create_user(
    session_or_app: Session | FastAPI | ServerContext,
    username: str,
    password: str,
    roles: Iterable[str],
) -> int:
    """Create an active user (for seeding and tests); returns its id.

    Raises
    ------
    UsageError
        For an unknown role or a user name that exists.
    """
    roles = sorted(set(roles))
    bad = set(roles) - set(ROLES)
    if bad or not roles:
        raise UsageError(f"roles must be a non-empty subset of {ROLES}, got {roles}")

    def add(s: Session) -> int:
        if s.scalars(select(db.User).where(db.User.username == username)).first():
            raise UsageError(f"user {username!r} exists")
        u = db.User(
            username=username, password_hash=hash_password(password), roles=roles, active=True
        )
        s.add(u)
        s.commit()
        return u.id

    if isinstance(session_or_app, Session):
        return add(session_or_app)
    with _ctx_of(session_or_app).session() as s:
        return add(s)


def bootstrap_admin(ctx: ServerContext) -> str | None:
    """On an empty user table, create ``admin`` with a random password.

    The password is written to ``data_dir/admin-password`` (mode 0600) and returned (to
    be shown once); ``None`` when users exist already.
    """
    import os

    with ctx.session() as s:
        if s.scalar(select(func.count()).select_from(db.User)):
            return None
    password = secrets.token_urlsafe(18)
    create_user(ctx, "admin", password, ["admin"])
    path = ctx.data_dir / "admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    os.chmod(path, 0o600)
    return password
