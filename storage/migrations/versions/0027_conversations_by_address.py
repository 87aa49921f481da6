"""conversations indexed by channel, address and last activity: a mail's turn looks for the
sender's recent threads by subject, which read every conversation of the channel without it

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 06:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_address", ["channel", "address", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_address")
