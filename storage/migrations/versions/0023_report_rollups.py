"""the report's rollups: the touchpoints it counts as narrow rows, and each conversation's
active quarter-hours; both filled from the touchpoints already written

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Frozen here as they were when this revision was written: the code may change, this may not.
ACTIVITY = ("message_in", "conversation_opened")
COUNTED = (
    "lead_captured",
    "lead_contacted",
    "lead_status_changed",
    "rep_claimed",
    "rep_replied",
    "csat_rated",
    "ticket_opened",
    "ticket_status_changed",
)
SUPERSEDED = ("lead_captured", "lead_status_changed")
SLOT_SECONDS = 900
BATCH = 5000

TOUCHPOINTS = sa.table(
    "touchpoints",
    sa.column("id", ID),
    sa.column("kind", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("conversation_id", ID),
    sa.column("occurred_at", storage.tables.UTCDateTime()),
    sa.column("details", sa.JSON()),
)
FIGURES = sa.table(
    "touchpoint_figures",
    *(
        sa.column(name)
        for name in ("kind", "channel", "minute", "lead_id", "rep_id", "stage", "reason", "source")
    ),
    sa.column("occurred_at", storage.tables.UTCDateTime()),
    sa.column("latency", sa.Float()),
    sa.column("first", sa.Boolean()),
    sa.column("rating", sa.Float()),
    sa.column("next_at", storage.tables.UTCDateTime()),
)
ACTIVE = sa.table(
    "conversation_activity",
    sa.column("conversation_id", ID),
    sa.column("slot", storage.tables.UTCDateTime()),
    sa.column("previous", storage.tables.UTCDateTime()),
    sa.column("channel", sa.String()),
)


def _moment(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, storage.tables.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _create_figures()
    _create_activity()
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(_moment("active_slot"))
    connection = op.get_bind()
    _fill_figures(connection)
    _fill_activity(connection)
    # Planner statistics now: without them PostgreSQL joins a year's cohort by nested loops
    # (half a minute) until autovacuum analyzes the tables filled here.
    for table in ("touchpoint_figures", "conversation_activity"):
        op.execute(f"ANALYZE {table}")


def _create_figures() -> None:
    op.create_table(
        "touchpoint_figures",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        _moment("occurred_at", nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("lead_id", ID, nullable=True),
        sa.Column("rep_id", ID, nullable=True),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("latency", sa.Float(), nullable=True),
        sa.Column("first", sa.Boolean(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        _moment("next_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_touchpoint_figures")),
    )
    op.create_index(
        "ix_touchpoint_figures_kind_time", "touchpoint_figures", ["kind", "occurred_at"]
    )
    op.create_index(
        "ix_touchpoint_figures_lead", "touchpoint_figures", ["lead_id", "kind", "occurred_at"]
    )


def _create_activity() -> None:
    op.create_table(
        "conversation_activity",
        sa.Column("conversation_id", ID, nullable=False),
        _moment("slot", nullable=False),
        _moment("previous"),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_activity_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", "slot", name=op.f("pk_conversation_activity")),
    )
    op.create_index(
        "ix_conversation_activity_slot",
        "conversation_activity",
        ["slot", "previous", "channel"],
    )


def _fill_figures(connection: sa.Connection) -> None:
    query = (
        sa.select(TOUCHPOINTS.c.kind, TOUCHPOINTS.c.channel, TOUCHPOINTS.c.occurred_at)
        .add_columns(TOUCHPOINTS.c.details)
        .where(TOUCHPOINTS.c.kind.in_(COUNTED))
        .order_by(TOUCHPOINTS.c.id)
    )
    rows = [_figure(*row) for row in connection.execute(query)]
    _link_next(rows)
    for batch in _batches(iter(rows)):
        connection.execute(FIGURES.insert(), batch)


def _link_next(rows: list[dict[str, Any]]) -> None:
    """Each capture and status change of a lead gets the time of its next one (rows are in
    the order written)."""
    latest: dict[tuple[Any, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: row["occurred_at"]):  # stable: ties keep order
        row["next_at"] = None
        if row["kind"] in SUPERSEDED and row["lead_id"] is not None:
            before = latest.get((row["lead_id"], row["kind"]))
            if before is not None:
                before["next_at"] = row["occurred_at"]
            latest[(row["lead_id"], row["kind"])] = row


def _figure(kind: str, channel: str, occurred_at: datetime, details: Any) -> dict[str, Any]:
    found: Mapping[str, Any] = json.loads(details) if isinstance(details, str) else details or {}
    return {
        "kind": kind,
        "channel": channel,
        "occurred_at": occurred_at,
        "minute": int(occurred_at.timestamp()) // 60,
        "lead_id": _whole(found.get("lead_id")),
        "rep_id": _whole(found.get("rep_id")),
        "stage": _text(found.get("to")),
        "reason": _text(found.get("reason")),
        "source": _text(found.get("source")),
        "latency": _number(found.get("latency")),
        "first": None if found.get("first") is None else bool(found.get("first")),
        "rating": _number(found.get("rating")),
    }


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _fill_activity(connection: sa.Connection) -> None:
    query = (
        sa.select(TOUCHPOINTS.c.conversation_id, TOUCHPOINTS.c.channel, TOUCHPOINTS.c.occurred_at)
        .where(TOUCHPOINTS.c.kind.in_(ACTIVITY), TOUCHPOINTS.c.conversation_id.is_not(None))
        .order_by(TOUCHPOINTS.c.conversation_id, TOUCHPOINTS.c.occurred_at)
    )
    latest: dict[int, datetime] = {}
    for batch in _batches(_slots(connection.execute(query), latest)):
        connection.execute(ACTIVE.insert(), batch)
    conversations = sa.table("conversations", sa.column("id", ID), sa.column("active_slot"))
    marks = [{"number": key, "slot": slot} for key, slot in latest.items()]
    mark = (
        conversations.update()
        .where(conversations.c.id == sa.bindparam("number"))
        .values(active_slot=sa.bindparam("slot", type_=storage.tables.UTCDateTime()))
    )
    for batch in _batches(iter(marks)):
        connection.execute(mark, batch)


def _slots(rows: Any, latest: dict[int, datetime]) -> Iterator[dict[str, Any]]:
    """A row per conversation and quarter-hour with a message, with the quarter-hour before."""
    for conversation_id, channel, occurred_at in rows:
        seconds = int(occurred_at.timestamp()) // SLOT_SECONDS * SLOT_SECONDS
        slot = datetime.fromtimestamp(seconds, UTC)
        previous = latest.get(conversation_id)
        if previous is not None and slot <= previous:
            continue
        latest[conversation_id] = slot
        yield {
            "conversation_id": conversation_id,
            "slot": slot,
            "previous": previous,
            "channel": channel,
        }


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("active_slot")
    op.drop_index("ix_conversation_activity_slot", table_name="conversation_activity")
    op.drop_table("conversation_activity")
    op.drop_index("ix_touchpoint_figures_lead", table_name="touchpoint_figures")
    op.drop_index("ix_touchpoint_figures_kind_time", table_name="touchpoint_figures")
    op.drop_table("touchpoint_figures")
