"""message_files: the files of an inbound message, read once on arrival and kept with it

Revision ID: 0011
Revises: 0015
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0011"
down_revision = "0015"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_files",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("message_id", Id, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_files_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_files")),
    )
    op.create_index(
        op.f("ix_message_files_message_id"), "message_files", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_message_files_message_id"), table_name="message_files")
    op.drop_table("message_files")
