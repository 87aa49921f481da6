"""leader leases: one instance at a time polls Telegram and reads each mailbox

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 19:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _moment(name: str) -> sa.Column[object]:
    return sa.Column(name, storage.tables.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "leader_leases",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("holder", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        _moment("expires_at"),
        _moment("taken_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leader_leases")),
    )


def downgrade() -> None:
    op.drop_table("leader_leases")
