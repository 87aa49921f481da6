"""Sign-in to the sales console: one-time links and sessions.

Only a SHA-256 of each secret is stored, so a copy of the database signs nobody in. A link is
good once, until it expires: `use_link` consumes it in one conditional UPDATE, so two requests
racing with the same link cannot both sign in. A session is good until it expires, its person
signs out, is signed out by a manager (`end_sessions_of`) or is removed (an inactive rep's
session is never found).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, insert, or_, select, union, update

from storage.connection import SqlConnection
from storage.tables import handoffs, leads, login_links, reps, web_sessions

SECRET_BYTES = 32


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    rep_id: int
    expires_at: datetime
    csrf_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NewSession:
    secret: str = field(repr=False)  # the cookie's value: never logged
    session: ConsoleSession


class ConsoleAccessRepository:
    def __init__(self, db: SqlConnection) -> None:
        self._db = db

    async def new_link(self, rep_id: int, now: datetime, valid_for: timedelta) -> str:
        """A one-time sign-in secret for `rep_id`, good for `valid_for`."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        await self._db.execute(
            insert(login_links).values(
                token_hash=digest(secret), rep_id=rep_id, expires_at=now + valid_for, created_at=now
            )
        )
        return secret

    async def link_holder(self, secret: str, now: datetime) -> int | None:
        """Whose unused, unexpired link this is (the link is not used up)."""
        query = (
            select(login_links.c.rep_id)
            .join(reps, reps.c.id == login_links.c.rep_id)
            .where(
                login_links.c.token_hash == digest(secret),
                login_links.c.used_at.is_(None),
                login_links.c.expires_at > now,
                reps.c.active.is_(True),
            )
        )
        return (await self._db.execute(query)).scalar()

    async def use_link(self, secret: str, now: datetime) -> int | None:
        """Consume the link: its rep's id, or None when it is unknown, used, expired or its rep
        is gone."""
        rep_id = await self.link_holder(secret, now)
        if rep_id is None:
            return None
        consumed = await self._db.execute(
            update(login_links)
            .where(login_links.c.token_hash == digest(secret), login_links.c.used_at.is_(None))
            .values(used_at=now)
        )
        return rep_id if consumed.rowcount == 1 else None

    async def new_session(self, rep_id: int, now: datetime, valid_for: timedelta) -> NewSession:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        session = ConsoleSession(rep_id, now + valid_for, secrets.token_urlsafe(SECRET_BYTES))
        await self._db.execute(
            insert(web_sessions).values(
                token_hash=digest(secret),
                rep_id=rep_id,
                csrf_token=session.csrf_token,
                expires_at=session.expires_at,
                created_at=now,
            )
        )
        return NewSession(secret, session)

    async def session(self, secret: str, now: datetime) -> ConsoleSession | None:
        """The live session this cookie secret opens, if any (its rep still active)."""
        query = (
            select(web_sessions.c.rep_id, web_sessions.c.expires_at, web_sessions.c.csrf_token)
            .join(reps, reps.c.id == web_sessions.c.rep_id)
            .where(
                web_sessions.c.token_hash == digest(secret),
                web_sessions.c.ended_at.is_(None),
                web_sessions.c.expires_at > now,
                reps.c.active.is_(True),
            )
        )
        row = (await self._db.execute(query)).first()
        return None if row is None else ConsoleSession(row.rep_id, row.expires_at, row.csrf_token)

    async def end_session(self, secret: str, now: datetime) -> None:
        await self._db.execute(
            update(web_sessions)
            .where(web_sessions.c.token_hash == digest(secret), web_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )

    async def end_sessions_of(self, rep_id: int, now: datetime) -> int:
        """Sign `rep_id` out everywhere, their unused links void too; how many sessions ended."""
        await self._db.execute(
            update(login_links)
            .where(login_links.c.rep_id == rep_id, login_links.c.used_at.is_(None))
            .values(used_at=now)
        )
        ended = await self._db.execute(
            update(web_sessions)
            .where(web_sessions.c.rep_id == rep_id, web_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        return int(ended.rowcount)

    async def forget_rep(self, rep_id: int) -> None:
        """Delete a removed rep's links and sessions (so the rep's row may go too)."""
        for table in (login_links, web_sessions):
            await self._db.execute(delete(table).where(table.c.rep_id == rep_id))

    # --- what a rep may see ----------------------------------------------------------------

    async def touches(self, rep_id: int, contact_id: int) -> bool:
        """Whether the contact is one the rep works: a lead of theirs (owned or offered to
        them now) or a hand-off they hold or held."""
        query = select(
            or_(
                exists().where(leads.c.contact_id == contact_id, _leads_of(rep_id)),
                exists().where(handoffs.c.contact_id == contact_id, handoffs.c.rep_id == rep_id),
            )
        )
        return bool((await self._db.execute(query)).scalar())

    async def contacts_touched(self, rep_id: int) -> set[int]:
        """Every contact the rep works (see `touches`)."""
        query = union(
            select(leads.c.contact_id).where(_leads_of(rep_id)),
            select(handoffs.c.contact_id).where(handoffs.c.rep_id == rep_id),
        )
        return {row[0] for row in await self._db.execute(query)}


def _leads_of(rep_id: int) -> ColumnElement[bool]:
    return or_(leads.c.owner_rep_id == rep_id, leads.c.offered_rep_id == rep_id)
