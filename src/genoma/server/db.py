"""Database: SQLAlchemy 2 models, engine, and Alembic migrations run at start-up.

SQLite (WAL, busy timeout) is the embedded default; PostgreSQL is used in server mode.
The schema is owned by the Alembic migrations shipped in ``genoma/server/migrations``;
:func:`migrate` runs ``alembic upgrade head`` through Alembic's API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

__all__ = [
    "Base",
    "CareTeamMember",
    "Job",
    "Patient",
    "SignOff",
    "StoredFile",
    "User",
    "as_utc",
    "make_engine",
    "migrate",
    "utcnow",
]

JOB_STATES = ("queued", "running", "succeeded", "failed")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(t: datetime | None) -> datetime | None:
    """``t`` as aware UTC (SQLite returns naive datetimes)."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the server's tables."""


class User(Base):
    """An account: user name, argon2 password hash, roles, active flag."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    roles: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Patient(Base):
    """A data subject: external id, display name, DUO consent, care team, own account."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False)
    consent: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    care_team: Mapped[list[CareTeamMember]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class CareTeamMember(Base):
    """Membership of one user in one patient's care team."""

    __tablename__ = "care_team"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class StoredFile(Base):
    """An uploaded input file; its bytes live encrypted in the vault as ``object_id``."""

    __tablename__ = "files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    object_id: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """One analysis run: persistent state, progress, heartbeat, attempts, report objects."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), nullable=False, index=True)
    vcf_file_id: Mapped[int] = mapped_column(ForeignKey("files.id"), nullable=False)
    phenopacket_file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"), nullable=True)
    purpose: Mapped[str] = mapped_column(String(100), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reports: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SignOff(Base):
    """A clinician's sign-off of one finding of one job's report."""

    __tablename__ = "signoffs"
    __table_args__ = (UniqueConstraint("job_id", "finding_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), nullable=False, index=True)
    finding_id: Mapped[int] = mapped_column(Integer, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite: WAL, foreign keys, 30 s busy timeout).

    Raises
    ------
    UsageError
        For a database other than SQLite or PostgreSQL.
    """
    from genoma.errors import UsageError

    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        u = make_url(url)
        pool: dict[str, int] = {}
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            # absolute, so that a job process working in another directory opens the same file
            path = Path(u.database).absolute()
            path.parent.mkdir(parents=True, exist_ok=True)
            u = u.set(database=str(path))
            # a pool as large as the request thread pool (40 threads): requests never
            # queue for a connection
            pool = {"pool_size": 20, "max_overflow": 30}
        # No pre-ping: a local file cannot drop the connection, and it cost a query per
        # request.
        engine = create_engine(u, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_size=20, max_overflow=30, pool_pre_ping=True)
    raise UsageError(f"unsupported database URL {url.split(':', 1)[0]!r} (sqlite or postgresql)")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (``alembic upgrade head``).

    Raises
    ------
    InputMissingError
        The database cannot be reached or opened (exit 3); the message names the URL
        without its password.
    """
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.exc import OperationalError

    from genoma.errors import InputMissingError

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    try:  # a clear error for an unreachable database, before the migration starts
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise InputMissingError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
            f"{reason}") from None
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def session_factory(engine: Engine) -> sessionmaker:
    """Sessions bound to ``engine`` (objects stay readable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
