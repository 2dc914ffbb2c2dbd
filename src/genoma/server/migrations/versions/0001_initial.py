"""Initial schema: users, patients, care team, files, jobs, sign-offs.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("consent", sa.JSON, nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "care_team",
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False, unique=True),
        sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        _ts("created_at", nullable=False),
    )
    op.create_index("ix_files_patient_id", "files", ["patient_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("vcf_file_id", sa.Integer, sa.ForeignKey("files.id"), nullable=False),
        sa.Column("phenopacket_file_id", sa.Integer, sa.ForeignKey("files.id"), nullable=True),
        sa.Column("purpose", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("reports", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        _ts("created_at", nullable=False),
        _ts("started_at"),
        _ts("heartbeat_at"),
        _ts("finished_at"),
    )
    op.create_index("ix_jobs_patient_id", "jobs", ["patient_id"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("finding_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        _ts("signed_at", nullable=False),
        sa.UniqueConstraint("job_id", "finding_id"),
    )
    op.create_index("ix_signoffs_job_id", "signoffs", ["job_id"])


def downgrade() -> None:
    for table in ("signoffs", "jobs", "files", "care_team", "patients", "users"):
        op.drop_table(table)
