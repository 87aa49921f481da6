"""outbox rows that show a rep a customer's message as it is, and rows a rep wrote

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
        batch_op.add_column(
            sa.Column(
                "forward_message_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("automatic", sa.Boolean(), server_default="1", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_forward_message_id"), ["forward_message_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_forward_message_id_messages"),
            "messages",
            ["forward_message_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_forward_message_id_messages"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_forward_message_id"))
        batch_op.drop_column("automatic")
        batch_op.drop_column("forward_message_id")
