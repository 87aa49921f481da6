"""outbox rows that copy a customer's message to a rep, and rows a rep wrote

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 00:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forward", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("automatic", sa.Boolean(), server_default="1", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("automatic")
        batch_op.drop_column("forward")
