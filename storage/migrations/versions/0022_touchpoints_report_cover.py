"""touchpoints by kind and time with their channel and conversation: counting the conversations
of a period (the dashboard, `touchpoint report`) reads the index alone, not a row per message.
It replaces the index by kind and time, which it serves too: still one index update per
touchpoint for both.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 16:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

COLUMNS = ["kind", "occurred_at", "channel", "conversation_id"]


def upgrade() -> None:
    op.create_index("ix_touchpoints_kind_time_cover", "touchpoints", COLUMNS, unique=False)
    op.drop_index("ix_touchpoints_kind_time", table_name="touchpoints")


def downgrade() -> None:
    op.create_index(
        "ix_touchpoints_kind_time", "touchpoints", ["kind", "occurred_at"], unique=False
    )
    op.drop_index("ix_touchpoints_kind_time_cover", table_name="touchpoints")
