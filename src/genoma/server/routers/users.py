"""Users: ``/users/me`` for everyone; listing, creation and changes for admins."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from genoma.server import db
from genoma.server.deps import Ctx, CurrentUser, DbSession, PathId
from genoma.server.schemas import UserIn, UserOut, UserPatch
from genoma.server.security import hash_password

router = APIRouter(prefix="/users", tags=["users"])
_ADMIN = {"admin"}


def user_out(u: db.User) -> UserOut:
    """API view of a user."""
    return UserOut(id=u.id, username=u.username, roles=list(u.roles), active=u.active)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """The authenticated user."""
    return user_out(user)


@router.get("", response_model=list[UserOut])
def list_users(ctx: Ctx, session: DbSession, user: CurrentUser) -> list[UserOut]:
    """Every user (admin)."""
    ctx.require_roles(user, _ADMIN, "admin", "users")
    return [user_out(u) for u in session.scalars(select(db.User).order_by(db.User.id))]


@router.post(
    "", response_model=UserOut, status_code=201, responses={409: {"description": "user name taken"}}
)
def create(body: UserIn, ctx: Ctx, session: DbSession, user: CurrentUser) -> UserOut:
    """Create a user (admin)."""
    ctx.require_roles(user, _ADMIN, "admin", "users")
    if session.scalars(select(db.User).where(db.User.username == body.username)).first():
        raise HTTPException(409, f"user {body.username!r} exists")
    u = db.User(
        username=body.username,
        password_hash=hash_password(body.password),
        roles=sorted(set(body.roles)),
        active=True,
    )
    session.add(u)
    session.commit()
    ctx.audit.append(
        actor=user.username,
        action="admin",
        resource=f"user:{u.username}",
        purpose=None,
        outcome="success",
        detail=f"created with roles {u.roles}",
    )
    return user_out(u)


@router.patch(
    "/{user_id}",
    response_model=UserOut,
    responses={404: {"description": "no user"}, 409: {"description": "self lock-out"}},
)
def patch(
    user_id: PathId, body: UserPatch, ctx: Ctx, session: DbSession, user: CurrentUser
) -> UserOut:
    """Change roles, the active flag or the password of a user (admin)."""
    ctx.require_roles(user, _ADMIN, "admin", f"user:{user_id}")
    u = session.get(db.User, user_id)
    if u is None:
        raise HTTPException(404, f"no user {user_id}")
    if u.id == user.id and (
        body.active is False or (body.roles is not None and "admin" not in body.roles)
    ):
        raise HTTPException(409, "an admin cannot deactivate or demote their own account")
    changed = []
    if body.roles is not None:
        u.roles = sorted(set(body.roles))
        changed.append(f"roles={u.roles}")
    if body.active is not None:
        u.active = body.active
        changed.append(f"active={u.active}")
    if body.password is not None:
        u.password_hash = hash_password(body.password)
        changed.append("password")
    session.commit()
    ctx.audit.append(
        actor=user.username,
        action="admin",
        resource=f"user:{u.username}",
        purpose=None,
        outcome="success",
        detail=", ".join(changed) or "no change",
    )
    return user_out(u)
