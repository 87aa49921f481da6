"""touchpoints by kind and time, for reports over a period (replacing the index by kind alone,
which the new one serves too: no more index updates per touchpoint than before)

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
    op.drop_index("ix_touchpoints_kind", table_name="touchpoints")


def downgrade() -> None:
    op.create_index("ix_touchpoints_kind", "touchpoints", ["kind"], unique=False)
    op.drop_index("ix_touchpoints_kind_time", table_name="touchpoints")
