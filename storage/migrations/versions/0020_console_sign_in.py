"""the sales console: one-time sign-in links, sessions, each person's page language

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-06 16:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, storage.tables.UTCDateTime(timezone=True), nullable=nullable)


def _secret_table(name: str, *extra: sa.Column[object]) -> None:
    op.create_table(
        name,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("rep_id", ID, nullable=False),
        *extra,
        _moment("expires_at", nullable=False),
        _moment("created_at", nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"], name=op.f(f"fk_{name}_rep_id_reps")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{name}_token_hash")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_rep_id"), ["rep_id"], unique=False)


def upgrade() -> None:
    _secret_table("login_links", _moment("used_at"))
    _secret_table(
        "web_sessions",
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        _moment("ended_at"),
    )
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("console_language", sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_column("console_language")
    for name in ("web_sessions", "login_links"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_rep_id"))
        op.drop_table(name)
