"""the unsent outbox rows of each conversation indexed, so the relay's check that no older row
of a row's conversation is unsent reads only the unsent ones, not the conversation's history

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

UNSENT = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_unsent_conversation",
            ["conversation_id", "id"],
            unique=False,
            sqlite_where=UNSENT,
            postgresql_where=UNSENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_unsent_conversation", sqlite_where=UNSENT, postgresql_where=UNSENT
        )
