"""hand-off offers and relayed messages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 17:44:01.866349
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("offered_at", storage.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("offered_to", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("first_answer_at", storage.tables.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "relay_conversation_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(batch_op.f("ix_outbox_external_id"), ["external_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_relay_conversation_id"), ["relay_conversation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_relay_conversation_id_conversations"),
            "conversations",
            ["relay_conversation_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_relay_conversation_id_conversations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_relay_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_external_id"))
        batch_op.drop_column("relay_conversation_id")

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_column("first_answer_at")
        batch_op.drop_column("offered_to")
        batch_op.drop_column("offered_at")
