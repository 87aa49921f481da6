"""identities proven by a channel, or only typed by the contact (claims)

A claim never decides whose a message, a conversation or a ticket is, and is never a merge
target. Existing rows: Telegram and terminal identities are proven by their channel; an email
address is proven when mail came from it into a conversation of that contact; a phone number
cannot be told apart (shared through Telegram, or typed) and counts as a claim: a later
verified share takes it over.

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-06 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified", sa.Boolean(), server_default="1", nullable=False))
    identities = sa.table(
        "identities",
        sa.column("contact_id"),
        sa.column("channel"),
        sa.column("address"),
        sa.column("verified", sa.Boolean()),
    )
    conversations = sa.table(
        "conversations", sa.column("contact_id"), sa.column("channel"), sa.column("address")
    )
    mail_came_from_it = sa.exists().where(
        conversations.c.contact_id == identities.c.contact_id,
        conversations.c.channel == "email",
        conversations.c.address == identities.c.address,
    )
    op.execute(identities.update().where(identities.c.channel == "phone").values(verified=False))
    op.execute(
        identities.update()
        .where(identities.c.channel == "email", ~mail_came_from_it)
        .values(verified=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("verified")
