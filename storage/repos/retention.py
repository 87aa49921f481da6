"""Forgetting what is no longer needed: payloads past their time, and one person on request.

What stays is what reports and timelines are made of: the touchpoint rows (kinds, actors,
times, channels), conversations, leads and tickets as records. What goes is the bulk and the
personal: raw mail, message and outbox texts, dead letters' payloads, webhook bodies sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Executable, String, cast, delete, literal, or_, select, tuple_, update

from storage.connection import SqlConnection
from storage.tables import (
    contacts,
    conversations,
    dead_letters,
    handoffs,
    identities,
    identity_conflicts,
    lead_notes,
    leads,
    message_files,
    messages,
    outbox,
    service_requests,
    ticket_notes,
    timers,
    touchpoint_figures,
    touchpoints,
    webhook_deliveries,
)

FORGOTTEN = "(forgotten)"


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many rows lost what, in one pass."""

    raw_mail: int = 0
    files: int = 0
    message_texts: int = 0
    outbox_texts: int = 0
    dead_letters: int = 0
    webhook_bodies: int = 0


class RetentionRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def prune(
        self, *, raw_before: datetime, text_before: datetime, dead_before: datetime
    ) -> Pruned:
        return Pruned(
            raw_mail=await self._rows(
                update(messages)
                .where(messages.c.raw.is_not(None), messages.c.created_at < raw_before)
                .values(raw=None)
            ),
            files=await self._rows(
                delete(message_files).where(message_files.c.created_at < raw_before)
            ),
            message_texts=await self._rows(
                update(messages)
                .where(messages.c.created_at < text_before, messages.c.text != "")
                .values(text="", payload=None, raw=None)
            ),
            outbox_texts=await self._rows(
                update(outbox)
                .where(
                    outbox.c.created_at < text_before,
                    outbox.c.status.in_(("sent", "failed")),
                    outbox.c.text != "",
                )
                .values(text="", last_error=None)
            ),
            dead_letters=await self._rows(
                update(dead_letters)
                .where(
                    dead_letters.c.created_at < dead_before,
                    (dead_letters.c.payload.is_not(None)) | (dead_letters.c.raw.is_not(None)),
                )
                .values(payload=None, raw=None)
            ),
            webhook_bodies=await self._rows(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.created_at < text_before,
                    webhook_deliveries.c.status.in_(("delivered", "dead", "cancelled")),
                    webhook_deliveries.c.body != "",
                )
                .values(body="", last_error=None)
            ),
        )

    async def forget_contact(self, contact_id: int) -> bool:
        """Erase one person: their identities, every text and payload of their conversations,
        their leads' and tickets' words, what was waiting to be sent to them; the touchpoint
        rows stay, without details, as counts. A later message from them starts afresh."""
        query = select(contacts.c.id).where(contacts.c.id == contact_id)
        if (await self._db.execute(query)).first() is None:
            return False
        for statement in _forgetting(contact_id):
            await self._db.execute(statement)
        return True

    async def _rows(self, statement: Executable) -> int:
        return int((await self._db.execute(statement)).rowcount)


def _forgetting(contact_id: int) -> list[Executable]:
    theirs = select(conversations.c.id).where(conversations.c.contact_id == contact_id)
    tickets = select(service_requests.c.id).where(service_requests.c.contact_id == contact_id)
    unsent = outbox.c.status.in_(("pending", "sending"))
    addresses = select(identities.c.channel, identities.c.address).where(
        identities.c.contact_id == contact_id
    )
    return [
        # Before their identities go: what was parked of theirs is found by their addresses.
        delete(dead_letters).where(
            tuple_(dead_letters.c.channel, dead_letters.c.address).in_(addresses)
        ),
        delete(identities).where(identities.c.contact_id == contact_id),
        delete(identity_conflicts).where(
            or_(
                identity_conflicts.c.contact_id == contact_id,
                identity_conflicts.c.owner_contact_id == contact_id,
            )
        ),
        update(messages)
        .where(messages.c.conversation_id.in_(theirs))
        .values(text="", payload=None, raw=None),
        delete(message_files).where(
            message_files.c.message_id.in_(
                select(messages.c.id).where(messages.c.conversation_id.in_(theirs))
            )
        ),
        update(outbox)
        .where(outbox.c.conversation_id.in_(theirs), unsent)
        .values(status="failed", last_error=FORGOTTEN),
        update(outbox)
        .where(outbox.c.conversation_id.in_(theirs))
        .values(text="", address=FORGOTTEN, subject=""),
        # Events about them not sent yet are not sent; none keeps their data.
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.contact_id == contact_id,
            webhook_deliveries.c.status.in_(("pending", "sending")),
        )
        .values(status="cancelled", last_error=FORGOTTEN),
        update(webhook_deliveries)
        .where(webhook_deliveries.c.contact_id == contact_id)
        .values(body=""),
        update(timers)
        .where(timers.c.conversation_id.in_(theirs), timers.c.status == "pending")
        .values(status="cancelled"),
        update(leads)
        .where(leads.c.contact_id == contact_id)
        .values(
            need="", name=None, company=None, email=None, phone=None, budget=None, timeline=None
        ),
        update(service_requests)
        .where(service_requests.c.contact_id == contact_id)
        .values(summary=""),
        update(ticket_notes).where(ticket_notes.c.ticket_id.in_(tickets)).values(text=""),
        # Their chat or mail thread no longer finds this conversation: a new one starts.
        update(conversations)
        .where(conversations.c.contact_id == contact_id)
        .values(
            address=FORGOTTEN,
            thread_key=literal("forgotten:") + cast(conversations.c.id, String),
            subject=None,
            data={},
        ),
        update(touchpoints).where(touchpoints.c.contact_id == contact_id).values(details={}),
        *_their_pipeline(contact_id),
        update(contacts)
        .where(contacts.c.id == contact_id)
        .values(display_name=FORGOTTEN, company=None),
    ]


def _their_pipeline(contact_id: int) -> list[Executable]:
    """What reps wrote about them and what timers carry for them: notes, next steps, a lost
    lead's reason (also in the report's rollup), a closed hand-off's summary, a reminder's text.
    The stages, times and ratings stay: they are the counts."""
    theirs = select(conversations.c.id).where(conversations.c.contact_id == contact_id)
    their_leads = select(leads.c.id).where(leads.c.contact_id == contact_id)
    return [
        update(lead_notes).where(lead_notes.c.lead_id.in_(their_leads)).values(text=""),
        update(leads)
        .where(leads.c.contact_id == contact_id)
        .values(lost_reason=None, next_step=None),
        update(touchpoint_figures)
        .where(touchpoint_figures.c.lead_id.in_(their_leads))
        .values(reason=None),
        update(handoffs).where(handoffs.c.contact_id == contact_id).values(summary=None),
        update(timers).where(timers.c.conversation_id.in_(theirs)).values(payload={}),
    ]
