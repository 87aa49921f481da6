"""Contacts and their channel identities."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, or_, select, update

from bot.records import Contact, Identity
from storage.connection import SqlConnection
from storage.sql import insert_ignore
from storage.tables import contacts, identities, identity_conflicts


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """What happened when an address was attached to a contact: "added" (or already there),
    "moved" (a proof took the address from another contact's claim: `owner_contact_id` held
    it), or "conflict" (another contact holds it, and a claim takes nothing)."""

    outcome: str
    owner_contact_id: int


@dataclass(frozen=True, slots=True)
class Conflict:
    """`contact_id` typed (or shared again after a separation) an address `owner_contact_id`
    holds: maybe one person, for a person to decide."""

    id: int
    contact_id: int
    owner_contact_id: int
    channel: str
    address: str
    created_at: datetime


def _escaped(text: str) -> str:
    """`text` matched literally by LIKE (its % and _ are not wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contact_from_row(row: Row[Any]) -> Contact:
    return Contact(
        id=row.id,
        display_name=row.display_name,
        company=row.company,
        language=row.language,
        owner_rep_id=row.owner_rep_id,
        created_at=row.created_at,
    )


INSERT_IDENTITY = insert_ignore(identities, ["channel", "address"])
AT_ADDRESS = and_(
    identities.c.channel == bindparam("channel"), identities.c.address == bindparam("address")
)
# Who an address proves to be: verified identities only, never a typed claim.
OWNER = select(identities.c.contact_id).where(AT_ADDRESS, identities.c.verified.is_(True))
HOLDER = select(identities.c.id, identities.c.contact_id, identities.c.verified).where(AT_ADDRESS)


class ContactRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def create(self, display_name: str, language: str | None, now: datetime) -> int:
        statement = contacts.insert().values(
            display_name=display_name[:200], language=language, created_at=now
        )
        result = await self._db.execute(statement.returning(contacts.c.id))
        return int(result.scalar_one())

    async def delete(self, contact_id: int) -> None:
        """Delete a contact nothing refers to yet (raises IntegrityError if something does)."""
        await self._db.execute(delete(contacts).where(contacts.c.id == contact_id))

    async def get(self, contact_id: int) -> Contact | None:
        row = (await self._db.execute(contacts.select().where(contacts.c.id == contact_id))).first()
        return contact_from_row(row) if row else None

    async def search(self, limit: int = 200) -> list[Contact]:
        query = contacts.select().order_by(contacts.c.id.desc()).limit(limit)
        return [contact_from_row(row) for row in await self._db.execute(query)]

    async def find(
        self, text: str = "", *, among: set[int] | None = None, offset: int = 0, limit: int = 50
    ) -> list[Contact]:
        """Contacts whose name or an address (Telegram, email, phone) holds `text` (any case),
        newest first; only those in `among` when given."""
        query = contacts.select()
        wanted = text.strip().lower()
        if wanted:
            pattern = f"%{_escaped(wanted)}%"
            at_address = select(identities.c.contact_id).where(
                func.lower(identities.c.address).like(pattern, escape="\\")
            )
            query = query.where(
                or_(
                    func.lower(contacts.c.display_name).like(pattern, escape="\\"),
                    contacts.c.id.in_(at_address),
                )
            )
        if among is not None:
            query = query.where(contacts.c.id.in_(sorted(among)))
        query = query.order_by(contacts.c.id.desc()).offset(offset).limit(limit)
        return [contact_from_row(row) for row in await self._db.execute(query)]

    async def conflicts(self, contact_id: int | None = None, limit: int = 200) -> list[Conflict]:
        """Open identity conflicts (an address one contact typed that another holds), newest
        first; those of `contact_id` (either side) when given."""
        query = identity_conflicts.select().where(identity_conflicts.c.status == "open")
        if contact_id is not None:
            query = query.where(
                or_(
                    identity_conflicts.c.contact_id == contact_id,
                    identity_conflicts.c.owner_contact_id == contact_id,
                )
            )
        rows = await self._db.execute(query.order_by(identity_conflicts.c.id.desc()).limit(limit))
        return [
            Conflict(row.id, row.contact_id, row.owner_contact_id, row.channel, row.address,
                     row.created_at)
            for row in rows
        ]  # fmt: skip

    async def settle_conflicts(self, one: int, other: int) -> int:
        """The open conflicts between these two contacts (either way) are settled: they were
        merged. How many there were."""
        pair = or_(
            and_(
                identity_conflicts.c.contact_id == one,
                identity_conflicts.c.owner_contact_id == other,
            ),
            and_(
                identity_conflicts.c.contact_id == other,
                identity_conflicts.c.owner_contact_id == one,
            ),
        )
        statement = (
            update(identity_conflicts)
            .where(pair, identity_conflicts.c.status == "open")
            .values(status="merged")
        )
        return int((await self._db.execute(statement)).rowcount)

    async def update_profile(
        self, contact_id: int, *, name: str | None = None, company: str | None = None
    ) -> None:
        values: dict[str, str] = {}
        if name:
            values["display_name"] = name[:200]
        if company:
            values["company"] = company[:200]
        if values:
            await self._db.execute(
                update(contacts).where(contacts.c.id == contact_id).values(**values)
            )

    async def owner_of(self, channel: str, address: str) -> int | None:
        parameters = {"channel": channel, "address": address}
        owner: int | None = (await self._db.execute(OWNER, parameters)).scalar_one_or_none()
        return owner

    async def identities(self, contact_id: int) -> list[Identity]:
        query = identities.select().where(identities.c.contact_id == contact_id)
        rows = await self._db.execute(query.order_by(identities.c.id))
        return [
            Identity(row.id, row.contact_id, row.channel, row.address, row.reachable, row.verified)
            for row in rows
        ]

    async def link(
        self, contact_id: int, channel: str, address: str, now: datetime, *, verified: bool = True
    ) -> IdentityLink:
        """Attach an address to a contact: as proven (`verified`, the channel says so) or as a
        claim (typed by the contact). A proof takes the address from another contact's claim,
        by moving the claim (never by merging the contacts); a claim takes nothing.
        """
        values = {
            "contact_id": contact_id,
            "channel": channel,
            "address": address,
            "verified": verified,
            "created_at": now,
        }
        await self._db.execute(INSERT_IDENTITY.on(self._db), values)
        held = (await self._db.execute(HOLDER, {"channel": channel, "address": address})).one()
        if held.contact_id == contact_id:
            if verified and not held.verified:
                await self._set_identity(held.id, contact_id=contact_id, verified=True)
            return IdentityLink("added", contact_id)
        if verified and not held.verified:
            await self._set_identity(held.id, contact_id=contact_id, verified=True)
            return IdentityLink("moved", held.contact_id)
        return IdentityLink("conflict", held.contact_id)

    async def _set_identity(self, identity_id: int, **values: Any) -> None:
        await self._db.execute(
            update(identities).where(identities.c.id == identity_id).values(**values)
        )

    async def record_conflict(
        self, contact_id: int, owner: int, channel: str, address: str, now: datetime
    ) -> None:
        await self._db.execute(
            identity_conflicts.insert().values(
                contact_id=contact_id,
                owner_contact_id=owner,
                channel=channel,
                address=address,
                created_at=now,
            )
        )

    async def set_reachable(self, channel: str, address: str, reason: str | None) -> int:
        """Mark an identity reachable (reason None) or unreachable; returns rows changed."""
        statement = (
            update(identities)
            .where(identities.c.channel == channel, identities.c.address == address)
            .values(reachable=reason is None, unreachable_reason=reason)
        )
        return (await self._db.execute(statement)).rowcount

    async def try_again(self, channel: str, address: str) -> int:
        """Send to an unreachable address again, its reason kept until a send succeeds."""
        statement = (
            update(identities)
            .where(
                identities.c.channel == channel,
                identities.c.address == address,
                identities.c.reachable.is_(False),
            )
            .values(reachable=True)
        )
        return (await self._db.execute(statement)).rowcount

    async def unreachable_reason(self, channel: str, address: str) -> str | None:
        query = select(identities.c.unreachable_reason).where(
            identities.c.channel == channel, identities.c.address == address
        )
        reason: str | None = (await self._db.execute(query)).scalar_one_or_none()
        return reason

    async def is_reachable(self, channel: str, address: str) -> bool:
        query = select(identities.c.reachable).where(
            identities.c.channel == channel, identities.c.address == address
        )
        value = (await self._db.execute(query)).scalar_one_or_none()
        return value is not False

    async def count(self) -> int:
        return int(
            (await self._db.execute(select(func.count()).select_from(contacts))).scalar_one()
        )

    async def names(self, contact_ids: Collection[int]) -> dict[int, str]:
        """The display names of these contacts (for a list that links to them)."""
        if not contact_ids:
            return {}
        query = select(contacts.c.id, contacts.c.display_name).where(
            contacts.c.id.in_(sorted(contact_ids))
        )
        return {row.id: row.display_name for row in await self._db.execute(query)}
