"""names that say what they hold: `followups` → `timers` (every durable timer, not only a
ticket's follow-up), `outbox.message_id` → `outbox.header_id` (a mail's Message-ID header,
not the id of a stored message)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TIMER_INDEXES = {  # old name → (new name, columns)
    "ix_followups_conversation_id": ("ix_timers_conversation_id", ["conversation_id"]),
    "ix_followups_due": ("ix_timers_due", ["status", "due_at"]),
    "ix_followups_handoff_id": ("ix_timers_handoff_id", ["handoff_id"]),
    "ix_followups_ticket_id": ("ix_timers_ticket_id", ["ticket_id"]),
}
TIMER_CONSTRAINTS = {  # PostgreSQL keeps constraint names through a table rename
    "pk_followups": "pk_timers",
    "fk_followups_conversation_id_conversations": "fk_timers_conversation_id_conversations",
    "fk_followups_handoff_id_handoffs": "fk_timers_handoff_id_handoffs",
    "fk_followups_ticket_id_service_requests": "fk_timers_ticket_id_service_requests",
}


def upgrade() -> None:
    _rename_table("followups", "timers", TIMER_INDEXES, TIMER_CONSTRAINTS)
    _rename_column("outbox", "message_id", "header_id")


def downgrade() -> None:
    _rename_column("outbox", "header_id", "message_id")
    indexes = {new: (old, columns) for old, (new, columns) in TIMER_INDEXES.items()}
    constraints = {new: old for old, new in TIMER_CONSTRAINTS.items()}
    _rename_table("timers", "followups", indexes, constraints)


def _rename_table(
    old: str,
    new: str,
    indexes: dict[str, tuple[str, list[str]]],
    constraints: dict[str, str],
) -> None:
    op.rename_table(old, new)
    for old_index, (new_index, columns) in indexes.items():
        _rename_index(new, old_index, new_index, columns)
    if _is_postgres():
        for old_name, new_name in constraints.items():
            op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT {old_name} TO {new_name}")


def _rename_column(table: str, old: str, new: str) -> None:
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")  # both engines have it
    _rename_index(table, f"ix_{table}_{old}", f"ix_{table}_{new}", [new])


def _rename_index(table: str, old: str, new: str, columns: list[str]) -> None:
    if _is_postgres():
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")
        return
    op.drop_index(old, table_name=table)  # SQLite cannot rename an index
    op.create_index(new, table, columns, unique=False)


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"
