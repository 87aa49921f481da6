"""reps get a secret reply token (the `+r<token>` of the reply address of mail to them), and
outbox rows to a rep carry it

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-06 10:30:00.000000
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_token", sa.String(length=64), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_token", sa.String(length=64), nullable=True))
    reps = sa.table("reps", sa.column("id"), sa.column("reply_token"))
    connection = op.get_bind()
    for (rep_id,) in connection.execute(sa.select(reps.c.id)).all():
        token = secrets.token_hex(8)  # every existing rep gets one of their own
        connection.execute(reps.update().where(reps.c.id == rep_id).values(reply_token=token))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("reply_token")
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_column("reply_token")
