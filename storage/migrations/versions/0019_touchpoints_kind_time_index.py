"""touchpoints by kind and time, for reports over a period

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-06 13:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_touchpoints_kind_time", "touchpoints", ["kind", "occurred_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_touchpoints_kind_time", table_name="touchpoints")
