"""reps are reached through identities (channel, address), like contacts

Moves each rep's `telegram_user_id` and `email` into `rep_identities` rows, so a new channel
needs rows instead of columns. The downgrade moves them back; identities on other channels
have no column to go to and are lost.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The tables as this revision knows them (storage/tables.py moves on with later revisions).
reps = sa.table(
    "reps",
    sa.column("id", Id),
    sa.column("telegram_user_id", sa.String()),
    sa.column("email", sa.String()),
    sa.column("created_at"),
)
rep_identities = sa.table(
    "rep_identities",
    sa.column("id", Id),
    sa.column("rep_id", Id),
    sa.column("channel", sa.String()),
    sa.column("address", sa.String()),
    sa.column("created_at"),
)
# Where each identity channel lived in `reps`, and how its address is stored.
COLUMNS = {"telegram": reps.c.telegram_user_id, "email": reps.c.email}
STORED = {"telegram": reps.c.telegram_user_id, "email": sa.func.lower(reps.c.email)}


def upgrade() -> None:
    _create_rep_identities()
    for channel in COLUMNS:
        op.execute(_identities_from_column(channel))
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_reps_email"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_reps_telegram_user_id"), type_="unique")
        batch_op.drop_column("email")
        batch_op.drop_column("telegram_user_id")


def downgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_user_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_reps_telegram_user_id"), ["telegram_user_id"]
        )
        batch_op.create_unique_constraint(batch_op.f("uq_reps_email"), ["email"])
    for channel in COLUMNS:
        op.execute(_column_from_identities(channel))
    op.drop_index(op.f("ix_rep_identities_rep_id"), table_name="rep_identities")
    op.drop_table("rep_identities")


def _create_rep_identities() -> None:
    op.create_table(
        "rep_identities",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("rep_id", Id, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["reps.id"], name=op.f("fk_rep_identities_rep_id_reps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rep_identities")),
        sa.UniqueConstraint("channel", "address", name=op.f("uq_rep_identities_channel")),
    )
    op.create_index(op.f("ix_rep_identities_rep_id"), "rep_identities", ["rep_id"], unique=False)


def _identities_from_column(channel: str) -> sa.Insert:
    # The identity is as old as the rep: that is when the address was registered.
    column = COLUMNS[channel]
    rows = sa.select(
        reps.c.id, sa.literal_column(f"'{channel}'"), STORED[channel], reps.c.created_at
    ).where(column.is_not(None), column != "")
    targets = ["rep_id", "channel", "address", "created_at"]
    return rep_identities.insert().from_select(targets, rows.order_by(reps.c.id))


def _column_from_identities(channel: str) -> sa.Update:
    # A rep may hold several addresses on a channel now; the column keeps the first registered.
    first = (
        sa.select(rep_identities.c.address)
        .where(rep_identities.c.rep_id == reps.c.id, rep_identities.c.channel == channel)
        .order_by(rep_identities.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return reps.update().values({COLUMNS[channel].name: first})
