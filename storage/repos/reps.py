"""Sales reps: who can take a hand-off, on which channels, in which languages."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.model import Address
from bot.records import Rep, rep_channel_rank
from storage.connection import SqlConnection
from storage.repos.console_access import ConsoleAccessRepository
from storage.tables import rep_identities, reps


class AddressTaken(Exception):
    """The channel address is already another rep's (an inactive rep keeps theirs)."""

    def __init__(self, address: Address, holder_id: int) -> None:
        super().__init__(f"{address.channel} address {address.value} is rep {holder_id}'s")
        self.address = address
        self.holder_id = holder_id


def rep_at_address(addressed: Any) -> ColumnElement[Any]:
    """The active rep who owns `addressed.c.channel`/`.address` (a Telegram chat with the rep,
    the rep's mailbox), or NULL: a correlated subquery for the select list."""
    return (
        select(rep_identities.c.rep_id)
        .join(reps, reps.c.id == rep_identities.c.rep_id)
        .where(
            rep_identities.c.channel == addressed.c.channel,
            rep_identities.c.address == addressed.c.address,
            reps.c.active.is_(True),
        )
        .scalar_subquery()
    )


def new_reply_token() -> str:
    """16 hex digits from the OS's secure random source: a plus address stays short."""
    return secrets.token_hex(8)


def stored_address(address: Address) -> Address:
    # Mail reaches the same mailbox whatever the case: addresses are stored and looked up
    # lower-cased.
    value = address.value.lower() if address.channel == "email" else address.value
    return Address(address.channel, value)


def rep_from_row(row: Row[Any], identities: Iterable[Address]) -> Rep:
    return Rep(
        id=row.id,
        name=row.name,
        languages=tuple(code for code in row.languages.split(",") if code),
        identities=tuple(sorted(identities, key=rep_channel_rank)),
        role=row.role,
        capacity=row.capacity,
        on_duty=row.on_duty,
        active=row.active,
        console_language=row.console_language,
    )


ACTIVE = reps.c.active.is_(True)
BY_ADDRESS = (
    reps.select()
    .join(rep_identities, rep_identities.c.rep_id == reps.c.id)
    .where(
        rep_identities.c.channel == bindparam("channel"),
        rep_identities.c.address == bindparam("address"),
        ACTIVE,
    )
)
IDENTITIES_OF = (
    select(rep_identities.c.rep_id, rep_identities.c.channel, rep_identities.c.address)
    .where(rep_identities.c.rep_id.in_(bindparam("rep_ids", expanding=True)))
    .order_by(rep_identities.c.id)
)
HOLDER = select(rep_identities.c.rep_id).where(
    rep_identities.c.channel == bindparam("channel"),
    rep_identities.c.address == bindparam("address"),
)
EXISTS = select(reps.c.id).where(reps.c.id == bindparam("rep_id"))


class RepRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def add(
        self,
        *,
        name: str,
        languages: tuple[str, ...],
        identities: Sequence[Address],
        role: str,
        capacity: int,
        now: datetime,
    ) -> int:
        """Register a rep; raises `AddressTaken` (and stores nothing) when another rep already
        has one of the addresses."""
        addresses = [stored_address(address) for address in identities]
        statement = reps.insert().values(
            name=name,
            languages=",".join(languages),
            role=role,
            capacity=capacity,
            reply_token=new_reply_token(),
            created_at=now,
        )
        async with self._claiming(addresses):
            rep_id = int((await self._db.execute(statement.returning(reps.c.id))).scalar_one())
            await self._insert_identities(rep_id, addresses, now)
        return rep_id

    async def reply_token_of(self, rep_id: int) -> str | None:
        query = select(reps.c.reply_token).where(reps.c.id == rep_id)
        token: str | None = (await self._db.execute(query)).scalar_one_or_none()
        return token

    async def reply_token_at(self, channel: str, address: str) -> str | None:
        """The token of the active rep reached at this address (None: no rep there)."""
        at = stored_address(Address(channel, address))
        parameters = {"channel": at.channel, "address": at.value}
        found = (await self._db.execute(BY_ADDRESS, parameters)).first()
        return found.reply_token if found is not None else None

    async def rotate_reply_token(self, rep_id: int) -> bool:
        """A new token: mail answering what was sent under the old one no longer counts as the
        rep's (unless it answers one of our mails to the rep by its Message-ID)."""
        statement = update(reps).where(reps.c.id == rep_id).values(reply_token=new_reply_token())
        return (await self._db.execute(statement)).rowcount == 1

    async def update(self, rep_id: int, **values: Any) -> bool:
        if "languages" in values:
            values["languages"] = ",".join(values["languages"])
        statement = update(reps).where(reps.c.id == rep_id).values(**values)
        return (await self._db.execute(statement)).rowcount == 1

    async def set_identity(
        self, rep_id: int, channel: str, address: str | None, *, now: datetime
    ) -> bool:
        """Make `address` the rep's one address on `channel` (None: no address there).

        False when there is no such rep; raises `AddressTaken` (and changes nothing) when the
        address is another rep's.
        """
        if (await self._db.execute(EXISTS, {"rep_id": rep_id})).first() is None:
            return False
        addresses = [stored_address(Address(channel, address))] if address is not None else []
        ours = rep_identities.c.rep_id == rep_id
        async with self._claiming(addresses):
            await self._db.execute(
                delete(rep_identities).where(ours, rep_identities.c.channel == channel)
            )
            await self._insert_identities(rep_id, addresses, now)
        return True

    async def remove(self, rep_id: int) -> bool:
        # A rep who handled hand-offs stays referenced by them: deactivate instead of deleting.
        deactivated = await self.update(rep_id, active=False, on_duty=False)
        if deactivated:
            await ConsoleAccessRepository(self._db).forget_rep(rep_id)
            await self._delete_if_unreferenced(rep_id)
        return deactivated

    async def on_duty(self) -> list[Rep]:
        """Active reps who said they are online, longest since their last assignment first."""
        query = (
            reps.select()
            .where(ACTIVE, reps.c.on_duty.is_(True))
            .order_by(reps.c.last_assigned_at.is_not(None), reps.c.last_assigned_at, reps.c.id)
        )
        return await self._reps(query)

    async def managers(self) -> list[Rep]:
        query = reps.select().where(ACTIVE, reps.c.role == "manager")
        return await self._reps(query.order_by(reps.c.id))

    async def get(self, rep_id: int) -> Rep | None:
        return await self._one(reps.select().where(reps.c.id == rep_id))

    async def search(self, *, include_inactive: bool = False) -> list[Rep]:
        query = reps.select()
        if not include_inactive:
            query = query.where(ACTIVE)
        return await self._reps(query.order_by(reps.c.id))

    async def by_address(self, channel: str, address: str) -> Rep | None:
        """The active rep who writes from this channel address, if any."""
        found = stored_address(Address(channel, address))
        return await self._one(BY_ADDRESS, {"channel": found.channel, "address": found.value})

    async def _one(
        self, query: Select[Any], parameters: dict[str, Any] | None = None
    ) -> Rep | None:
        found = await self._reps(query, parameters)
        return found[0] if found else None

    async def _reps(
        self, query: Select[Any], parameters: dict[str, Any] | None = None
    ) -> list[Rep]:
        """The reps `query` selects, with their identities read in one more statement."""
        rows = (await self._db.execute(query, parameters)).all()
        identities = await self._identities_of([row.id for row in rows])
        return [rep_from_row(row, identities[row.id]) for row in rows]

    async def _identities_of(self, rep_ids: list[int]) -> defaultdict[int, list[Address]]:
        found: defaultdict[int, list[Address]] = defaultdict(list)
        if rep_ids:
            for row in await self._db.execute(IDENTITIES_OF, {"rep_ids": rep_ids}):
                found[row.rep_id].append(Address(row.channel, row.address))
        return found

    async def _insert_identities(
        self, rep_id: int, addresses: Sequence[Address], now: datetime
    ) -> None:
        rows = [
            {"rep_id": rep_id, "channel": a.channel, "address": a.value, "created_at": now}
            for a in addresses
        ]
        if rows:
            await self._db.execute(rep_identities.insert(), rows)

    @asynccontextmanager
    async def _claiming(self, addresses: Sequence[Address]) -> AsyncIterator[None]:
        """Runs the block in a savepoint: an address another rep holds undoes the block and
        raises `AddressTaken` (the unique key decides, so two concurrent claims cannot both
        win)."""
        try:
            async with self._db.savepoint():
                yield
        except IntegrityError:
            taken = await self._taken(addresses)
            if taken is None:  # not about an address (the same one given twice, ...)
                raise
            raise taken from None

    async def _taken(self, addresses: Sequence[Address]) -> AddressTaken | None:
        for address in addresses:
            parameters = {"channel": address.channel, "address": address.value}
            holder = (await self._db.execute(HOLDER, parameters)).scalar()
            if holder is not None:
                return AddressTaken(address, int(holder))
        return None

    async def _delete_if_unreferenced(self, rep_id: int) -> None:
        try:
            async with self._db.savepoint():
                ours = rep_identities.c.rep_id == rep_id
                await self._db.execute(delete(rep_identities).where(ours))
                await self._db.execute(delete(reps).where(reps.c.id == rep_id))
        except IntegrityError:  # referenced by a hand-off or a contact: keep it (and its addresses)
            return
