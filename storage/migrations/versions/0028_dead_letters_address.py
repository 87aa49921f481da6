"""dead letters keep whom they came from (the channel's address), so that forgetting a person
erases what was parked of theirs; those parked before stay unattributed until their retention

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 06:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=512), nullable=True))
        batch_op.create_index("ix_dead_letters_address", ["channel", "address"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_dead_letters_address")
        batch_op.drop_column("address")
