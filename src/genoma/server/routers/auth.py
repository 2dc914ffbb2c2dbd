"""``POST /auth/token``: OAuth2 password flow → signed bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from genoma.server import db
from genoma.server.deps import Ctx, DbSession
from genoma.server.schemas import TokenOut
from genoma.server.security import issue_token, verify_password_and_update

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut, responses={401: {"description": "bad credentials"}})
def token(
    ctx: Ctx, session: DbSession, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenOut:
    """Exchange user name and password for an access token (failures are audited)."""
    user = session.scalars(select(db.User).where(db.User.username == form.username)).first()
    ok, new_hash = verify_password_and_update(form.password, user.password_hash if user else None)
    if not ok or user is None or not user.active:
        ctx.audit.append(
            actor=form.username[:100],
            action="login",
            resource="auth:token",
            purpose=None,
            outcome="denied",
            detail="bad credentials or inactive user",
        )
        raise HTTPException(
            401, "incorrect user name or password", headers={"WWW-Authenticate": "Bearer"}
        )
    if new_hash is not None:  # stored with older argon2 parameters: upgrade it
        user.password_hash = new_hash
        session.commit()
    return TokenOut(
        access_token=issue_token(
            ctx.token_secret, user.id, user.username, ctx.settings.token_minutes
        )
    )
