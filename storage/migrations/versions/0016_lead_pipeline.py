"""the lead pipeline: owner, offers, first contact, stages, next step, notes

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-06 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENTS = (
    "offered_at",
    "accepted_at",
    "contacted_at",
    "escalated_at",
    "closed_at",
    "next_step_due_at",
    "updated_at",
)


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for rep_column in ("owner_rep_id", "offered_rep_id"):
            batch_op.add_column(sa.Column(rep_column, ID, nullable=True))
            batch_op.create_index(batch_op.f(f"ix_leads_{rep_column}"), [rep_column], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_leads_{rep_column}_reps"), "reps", [rep_column], ["id"]
            )
        batch_op.add_column(sa.Column("offered_to", sa.JSON(), nullable=True))
        for moment in MOMENTS:
            batch_op.add_column(
                sa.Column(moment, storage.tables.UTCDateTime(timezone=True), nullable=True)
            )
        batch_op.add_column(sa.Column("lost_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("next_step", sa.Text(), nullable=True))

    op.create_table(
        "lead_notes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("lead_id", ID, nullable=False),
        sa.Column("rep_id", ID, nullable=True),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_notes_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"], name=op.f("fk_lead_notes_rep_id_reps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_notes")),
    )
    with op.batch_alter_table("lead_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_notes_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_notes_rep_id"), ["rep_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_notes_rep_id"))
        batch_op.drop_index(batch_op.f("ix_lead_notes_lead_id"))
    op.drop_table("lead_notes")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for column in ("next_step", "lost_reason", *reversed(MOMENTS), "offered_to"):
            batch_op.drop_column(column)
        for rep_column in ("offered_rep_id", "owner_rep_id"):
            batch_op.drop_constraint(batch_op.f(f"fk_leads_{rep_column}_reps"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_leads_{rep_column}"))
            batch_op.drop_column(rep_column)
