"""contact merges as events: `contact_merges` keeps the ids of the rows a merge moved, so
that it can be undone

Revision ID: 0010
Revises: 0014
Create Date: 2026-12-06 07:35:29.165325
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0010"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_merges",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("source_contact_id", ID, nullable=False),
        sa.Column("target_contact_id", ID, nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("merged_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("undone_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_merges_source_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["target_contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_merges_target_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_merges")),
    )
    with op.batch_alter_table("contact_merges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_merges_source_contact_id"), ["source_contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contact_merges_target_contact_id"), ["target_contact_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_merges_target_contact_id"))
        batch_op.drop_index(batch_op.f("ix_contact_merges_source_contact_id"))
    op.drop_table("contact_merges")
