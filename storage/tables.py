"""The schema: one SQLAlchemy Core table per concept of ARCHITECTURE.md's data model.

Alembic migrations in `storage/migrations` are generated from this metadata; change both
together (`alembic revision --autogenerate`, see docs/development.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# SQLite has no 64-bit autoincrement type of its own; INTEGER PRIMARY KEY is the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _created() -> Column[datetime]:
    return Column("created_at", UTCDateTime(), nullable=False)


def _fk(name: str, target: str, *, nullable: bool = True) -> Column[int]:
    return Column(name, Id, ForeignKey(f"{target}.id"), nullable=nullable, index=True)


reps = Table(
    "reps",
    metadata,
    _id(),
    Column("name", String(200), nullable=False),
    Column("languages", String(64), nullable=False, server_default="en"),
    Column("role", String(16), nullable=False, server_default="rep"),
    Column("capacity", Integer, nullable=False, server_default="5"),
    Column("on_duty", Boolean, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("last_assigned_at", UTCDateTime()),
    # The secret in the reply address of every mail to the rep (`sales+r<token>@...`): a rep's
    # answer by email counts only with it, since a From line proves nothing.
    Column("reply_token", String(64)),
    # The language of the console's pages for this person (en/ru); their first language if unset.
    Column("console_language", String(2)),
    _created(),
)

# Where a rep is reached and recognised, one row per channel address (like a contact's
# identities): a new channel needs rows, not columns.
rep_identities = Table(
    "rep_identities",
    metadata,
    _id(),
    _fk("rep_id", "reps", nullable=False),
    Column("channel", String(32), nullable=False),
    Column("address", String(320), nullable=False),
    _created(),
    UniqueConstraint("channel", "address"),
)

contacts = Table(
    "contacts",
    metadata,
    _id(),
    Column("display_name", String(200), nullable=False, server_default=""),
    Column("company", String(200)),
    Column("language", String(8)),
    _fk("owner_rep_id", "reps"),
    _created(),
)

identities = Table(
    "identities",
    metadata,
    _id(),
    _fk("contact_id", "contacts", nullable=False),
    Column("channel", String(32), nullable=False),
    Column("address", String(320), nullable=False),
    Column("reachable", Boolean, nullable=False, server_default="1"),
    Column("unreachable_reason", Text),
    # Proven by the channel (the address wrote to us, Telegram's own shared contact), or only
    # typed by the contact: a claim, which never decides whose a message or ticket is.
    Column("verified", Boolean, nullable=False, server_default="1"),
    _created(),
    UniqueConstraint("channel", "address"),
)

identity_conflicts = Table(
    "identity_conflicts",
    metadata,
    _id(),
    _fk("contact_id", "contacts", nullable=False),
    _fk("owner_contact_id", "contacts", nullable=False),
    Column("channel", String(32), nullable=False),
    Column("address", String(320), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    _created(),
)

# A merge of two contacts is an event, not a rewrite: it keeps the ids of the rows it moved
# (per table), so undoing it moves exactly those back. Touchpoints never move: a contact's
# timeline takes in those of the contacts merged into it while the merge stands.
contact_merges = Table(
    "contact_merges",
    metadata,
    _id(),
    _fk("source_contact_id", "contacts", nullable=False),
    _fk("target_contact_id", "contacts", nullable=False),
    Column("moved", JSON, nullable=False),  # {"identities": [ids], "conversations": [...], ...}
    Column("merged_at", UTCDateTime(), nullable=False),
    Column("undone_at", UTCDateTime()),
)

conversations = Table(
    "conversations",
    metadata,
    _id(),
    _fk("contact_id", "contacts", nullable=False),
    Column("channel", String(32), nullable=False),
    Column("thread_key", String(512), nullable=False),
    Column("address", String(512), nullable=False),
    Column("state", String(16), nullable=False, server_default="idle"),
    Column("step", String(32)),
    Column("data", JSON, nullable=False),
    Column("language", String(8), nullable=False, server_default="en"),
    Column("misses", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("subject", String(998)),
    _fk("rep_id", "reps"),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False),
    # The latest quarter-hour with a message in: the turn reads it with the row, so only the
    # first message of a quarter-hour writes to `conversation_activity`.
    Column("active_slot", UTCDateTime()),
    # The highest channel sequence (Telegram message id) handled in order (bot/late.py).
    Column("last_sequence", BigInteger),
    UniqueConstraint("channel", "thread_key"),
)

messages = Table(
    "messages",
    metadata,
    _id(),
    Column("channel", String(32), nullable=False),
    Column("external_id", String(512), nullable=False),
    _fk("conversation_id", "conversations"),
    Column("direction", String(3), nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Column("payload", JSON),
    Column("raw", LargeBinary),
    _created(),
    Column("edited_at", UTCDateTime()),
    # Held back in a flood (bot/floods.py): read with the sender's next turn.
    Column("held", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("channel", "external_id"),
)

# The files of an inbound message as its channel read them on arrival (a mail's attachments),
# kept so that showing them to a rep never reads the message again.
message_files = Table(
    "message_files",
    metadata,
    _id(),
    _fk("message_id", "messages", nullable=False),
    Column("name", String(200), nullable=False),
    Column("mime_type", String(100), nullable=False),
    Column("data", LargeBinary, nullable=False),
    _created(),
)

touchpoints = Table(
    "touchpoints",
    metadata,
    _id(),
    _fk("contact_id", "contacts"),
    _fk("conversation_id", "conversations"),
    Column("channel", String(32), nullable=False),
    Column("kind", String(40), nullable=False),  # indexed with the time, below
    Column("actor", String(16), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("details", JSON, nullable=False),
)
Index("ix_touchpoints_contact_time", touchpoints.c.contact_id, touchpoints.c.occurred_at)
# By kind (and, for reports over a period, time): one index serves both, so a touchpoint
# written costs no more index updates than it did before reports. Its channel and
# conversation ride along: a period's conversations are counted from the index alone.
Index(
    "ix_touchpoints_kind_time_cover",
    touchpoints.c.kind,
    touchpoints.c.occurred_at,
    touchpoints.c.channel,
    touchpoints.c.conversation_id,
)

# The report's projection of the touchpoints it counts (leads, their stages, hand-off times,
# ratings, tickets: never messages), written with them by the repository. A year's figures are
# then read from narrow rows together on disk, not from the details of touchpoints scattered
# among a million messages. Its own id keeps the touchpoints' order (both are written in it).
touchpoint_figures = Table(
    "touchpoint_figures",
    metadata,
    _id(),
    Column("kind", String(40), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    # The same moment in whole minutes since 1970 (UTC): counted into local days in SQL alike
    # on both engines, by integer arithmetic.
    Column("minute", BigInteger, nullable=False),
    Column("lead_id", Id),
    Column("rep_id", Id),
    Column("stage", String(32)),  # the status or ticket state changed to
    Column("reason", String(200)),
    Column("source", String(200)),
    Column("latency", Float),
    Column("first", Boolean),
    Column("rating", Float),
    # A capture or status change: when the lead's next one of the same kind came (if yet), so
    # "its last one before a moment" is a condition on the row, not a search for later ones.
    Column("next_at", UTCDateTime()),
)
Index(
    "ix_touchpoint_figures_kind_time", touchpoint_figures.c.kind, touchpoint_figures.c.occurred_at
)
# A lead's stages, looked up for each lead of a period's cohort.
Index(
    "ix_touchpoint_figures_lead",
    touchpoint_figures.c.lead_id,
    touchpoint_figures.c.kind,
    touchpoint_figures.c.occurred_at,
)

# Each quarter-hour in which a conversation had a message in (or was opened), with the one
# before it: the conversations of a period whose bounds are whole quarter-hours (a day in any
# time zone) are the rows in it whose previous quarter-hour is before it — a count, where
# counting distinct conversations among the period's messages reads every message.
conversation_activity = Table(
    "conversation_activity",
    metadata,
    Column("conversation_id", Id, ForeignKey("conversations.id"), primary_key=True),
    Column("slot", UTCDateTime(), primary_key=True),
    Column("previous", UTCDateTime()),
    Column("channel", String(32), nullable=False),
)
Index(
    "ix_conversation_activity_slot",
    conversation_activity.c.slot,
    conversation_activity.c.previous,
    conversation_activity.c.channel,
)

leads = Table(
    "leads",
    metadata,
    _id(),
    _fk("contact_id", "contacts", nullable=False),
    _fk("conversation_id", "conversations"),
    Column("status", String(16), nullable=False, server_default="new"),
    Column("need", Text, nullable=False, server_default=""),
    Column("name", String(200)),
    Column("company", String(200)),
    Column("email", String(320)),
    Column("phone", String(32)),
    Column("budget", String(200)),
    Column("timeline", String(200)),
    Column("source", String(128)),
    Column("score", Integer, nullable=False, server_default="0"),
    _created(),
    # the pipeline: who has it, who was offered it, when it moved
    _fk("owner_rep_id", "reps"),
    _fk("offered_rep_id", "reps"),  # the rep whose card waits for Accept now
    Column("offered_to", JSON),  # rep ids offered so far, in order (the next offer skips them)
    Column("offered_at", UTCDateTime()),
    Column("accepted_at", UTCDateTime()),
    Column("contacted_at", UTCDateTime()),  # the first contact by a rep: speed-to-lead
    Column("escalated_at", UTCDateTime()),  # told to the managers: no first contact in time
    Column("closed_at", UTCDateTime()),  # won or lost
    Column("lost_reason", String(200)),
    Column("next_step", Text),
    Column("next_step_due_at", UTCDateTime()),
    Column("updated_at", UTCDateTime()),
)

lead_notes = Table(
    "lead_notes",
    metadata,
    _id(),
    _fk("lead_id", "leads", nullable=False),
    _fk("rep_id", "reps"),  # who wrote it (none: the customer or the bot)
    Column("author", String(16), nullable=False),
    Column("text", Text, nullable=False),
    _created(),
)

service_requests = Table(
    "service_requests",
    metadata,
    _id(),
    _fk("contact_id", "contacts", nullable=False),
    _fk("conversation_id", "conversations"),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("category", String(32), nullable=False, server_default="other"),
    Column("summary", Text, nullable=False, server_default=""),
    _created(),
    Column("updated_at", UTCDateTime(), nullable=False),
)

ticket_notes = Table(
    "ticket_notes",
    metadata,
    _id(),
    _fk("ticket_id", "service_requests", nullable=False),
    _fk("message_id", "messages"),
    Column("author", String(16), nullable=False),
    Column("text", Text, nullable=False),
    _created(),
)

handoffs = Table(
    "handoffs",
    metadata,
    _id(),
    _fk("conversation_id", "conversations", nullable=False),
    _fk("contact_id", "contacts", nullable=False),
    _fk("rep_id", "reps"),
    Column("reason", String(64), nullable=False),
    Column("status", String(16), nullable=False, server_default="queued"),
    Column("summary", Text),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("offered_at", UTCDateTime()),
    Column("offered_to", JSON),  # rep ids offered so far, in order (the next offer skips them)
    Column("first_answer_at", UTCDateTime()),
    Column("claimed_at", UTCDateTime()),
    Column("closed_at", UTCDateTime()),
)

timers = Table(
    "timers",
    metadata,
    _id(),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("due_at", UTCDateTime(), nullable=False),
    _fk("conversation_id", "conversations"),
    _fk("ticket_id", "service_requests"),
    _fk("handoff_id", "handoffs"),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime()),
    Column("fired_at", UTCDateTime()),
    _created(),
)
Index("ix_timers_due", timers.c.status, timers.c.due_at)

outbox = Table(
    "outbox",
    metadata,
    _id(),
    _fk("conversation_id", "conversations"),
    _fk("inbound_message_id", "messages"),
    Column("channel", String(32), nullable=False),
    Column("address", String(512), nullable=False),
    Column("text", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("contact_button", String(64), nullable=False, server_default=""),
    Column("subject", String(998), nullable=False, server_default=""),
    Column("header_id", String(512), index=True),  # a mail's Message-ID
    Column("in_reply_to", String(512)),
    Column("references", JSON, nullable=False),
    Column("ticket", Integer),
    # A message to a rep about a customer's conversation (the card, a relayed message): a rep
    # answering it (a Telegram reply, a mail reply) answers that conversation.
    _fk("relay_conversation_id", "conversations"),
    # A customer's message to show the rep as it is (a photo, a voice note, a PDF): copied on
    # the same channel, its files fetched and attached across channels; the text labels it.
    _fk("forward_message_id", "messages"),
    Column("automatic", Boolean, nullable=False, server_default="1"),  # not a rep's own words
    Column("reply_token", String(64)),  # a mail to a rep: the rep's token in its reply address
    # False for a message whose links must not be fetched to be shown (a one-time sign-in link).
    Column("link_previews", Boolean, nullable=False, server_default="1"),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime()),
    # Who holds the lease (`instance:random`): a row is settled only under the lease it was
    # sent under, and a restarted instance takes back its own leases at once.
    Column("lease_token", String(80)),
    Column("parts_sent", Integer, nullable=False, server_default="0"),  # of a long message
    Column("last_error", Text),
    Column("external_id", String(512), index=True),
    _created(),
    Column("sent_at", UTCDateTime()),
)
# The relay walks unsent rows in id order and takes the first deliverable one; a partial index
# keeps that walk as short as the backlog of unsent rows, however large the sent history grows.
UNSENT = outbox.c.status.in_(("pending", "sending"))
Index("ix_outbox_unsent", outbox.c.id, sqlite_where=UNSENT, postgresql_where=UNSENT)
# A row waits while an older row of its conversation is unsent: that check reads the few unsent
# rows of the conversation here, not its whole history (a batch makes it once per row leased).
Index(
    "ix_outbox_unsent_conversation",
    outbox.c.conversation_id,
    outbox.c.id,
    sqlite_where=UNSENT,
    postgresql_where=UNSENT,
)
# Reply caps count what went to one address recently (bot/caps.py).
Index("ix_outbox_address_created", outbox.c.address, outbox.c.created_at)
# A mail's turn looks for the sender's recent threads by subject (bot/threads.py).
Index(
    "ix_conversations_address",
    conversations.c.channel,
    conversations.c.address,
    conversations.c.updated_at,
)

channel_cursors = Table(
    "channel_cursors",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Work one instance at a time does (polling Telegram, reading a mailbox): `holder` is the
# instance's name, `token` fences a holder whose lease was taken over (bot/leadership.py).
leader_leases = Table(
    "leader_leases",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("holder", String(40), nullable=False),
    Column("token", String(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("taken_at", UTCDateTime(), nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    _id(),
    Column("channel", String(32), nullable=False),
    Column("external_id", String(512)),
    Column("error", Text, nullable=False),
    Column("payload", JSON),
    Column("raw", LargeBinary),
    Column("status", String(16), nullable=False, server_default="parked"),
    _created(),
    # Whom it came from, as the channel said (a chat id, a mail's From): forgetting a person
    # erases what was parked of theirs. Unknown for mail that could not be read at all.
    Column("address", String(512)),
)
Index("ix_dead_letters_address", dead_letters.c.channel, dead_letters.c.address)

# Outgoing webhooks: the company's own endpoints (a CRM) and what each receives. The secret
# signs every delivery (HMAC-SHA256); it is shown once, when the endpoint is added.
webhooks = Table(
    "webhooks",
    metadata,
    _id(),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("events", JSON, nullable=False),  # ["lead.created", ...]
    Column("active", Boolean, nullable=False, server_default="1"),
    _created(),
)

# One event for one endpoint (the outbox of webhooks): written in the transaction of the change
# it reports, with the body as it will be sent, then leased and posted by bot/webhooks.py.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    _id(),
    _fk("webhook_id", "webhooks", nullable=False),
    _fk("contact_id", "contacts"),  # whose data the body holds (forgotten with them)
    Column("event_id", String(64), nullable=False),  # the same for every endpoint of an event
    Column("event", String(40), nullable=False),  # lead.created, ...
    Column("body", Text, nullable=False),
    # pending → sending (leased) → delivered | dead; cancelled when its endpoint is removed
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime()),
    Column("lease_token", String(80)),
    Column("last_error", Text),
    Column("delivered_at", UTCDateTime()),
    _created(),
    UniqueConstraint("webhook_id", "event_id"),
)
UNDELIVERED = webhook_deliveries.c.status.in_(("pending", "sending"))
Index(
    "ix_webhook_deliveries_undelivered",
    webhook_deliveries.c.next_attempt_at,
    sqlite_where=UNDELIVERED,
    postgresql_where=UNDELIVERED,
)

# Sign-in to the sales console (web/). Only hashes of the secrets are kept: a leaked database
# copy signs nobody in. A link is used once (its POST), a session ends at its expiry, at sign-out,
# or when its rep is signed out or removed.
login_links = Table(
    "login_links",
    metadata,
    _id(),
    Column("token_hash", String(64), nullable=False, unique=True),
    _fk("rep_id", "reps", nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
    _created(),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    _id(),
    Column("token_hash", String(64), nullable=False, unique=True),
    _fk("rep_id", "reps", nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime()),
    _created(),
)
