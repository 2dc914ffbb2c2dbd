"""FastAPI dependencies: the server context, a database session, the current user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from genoma.server import db
from genoma.server.context import ServerContext
from genoma.server.security import read_token

__all__ = ["Ctx", "CurrentUser", "DbSession", "PathId"]

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_ctx(request: Request) -> ServerContext:
    """The context of the running app."""
    return request.app.state.ctx


def get_session(ctx: Annotated[ServerContext, Depends(get_ctx)]) -> Iterator[Session]:
    """One database session per request."""
    with ctx.session() as s:
        yield s


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def get_current_user(
    ctx: Annotated[ServerContext, Depends(get_ctx)],
    session: Annotated[Session, Depends(get_session)],
    token: Annotated[str | None, Depends(oauth2)],
) -> db.User:
    """The active user of a valid bearer token (401 otherwise)."""
    if not token:
        raise _unauthorized("not authenticated")
    uid = read_token(ctx.token_secret, token)
    if uid is None:
        raise _unauthorized("invalid or expired token")
    user = session.get(db.User, uid)
    if user is None or not user.active:
        raise _unauthorized("unknown or deactivated user")
    return user


PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""A database id in a path (out of range: 422, not a database error)."""
Ctx = Annotated[ServerContext, Depends(get_ctx)]
DbSession = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[db.User, Depends(get_current_user)]
