"""``GET /health``: liveness, version and database kind (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from genoma import __version__
from genoma.server.deps import Ctx
from genoma.server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(ctx: Ctx) -> Health:
    """The server is up and its database answers."""
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, database=ctx.dialect)  # type: ignore[arg-type]
