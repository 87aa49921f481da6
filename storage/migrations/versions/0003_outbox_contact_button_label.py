"""outbox contact button label

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:37:38.890297
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("contact_button", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.drop_column("request_contact")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "request_contact", sa.BOOLEAN(), server_default=sa.text("'0'"), nullable=False
            )
        )
        batch_op.drop_column("contact_button")
