"""Sales reps: who can take a hand-off, on which channel, in which languages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, or_, update
from sqlalchemy.exc import IntegrityError

from bot.records import Rep
from storage.connection import SqlConnection
from storage.tables import reps


def rep_address_matches(addressed: Any) -> ColumnElement[bool]:
    """Whether a rep is the owner of `addressed.c.channel`/`.address` (a Telegram chat with
    the rep, the rep's mailbox)."""
    on_telegram = and_(
        addressed.c.channel == "telegram", reps.c.telegram_user_id == addressed.c.address
    )
    by_email = and_(addressed.c.channel == "email", reps.c.email == addressed.c.address)
    return or_(on_telegram, by_email)


def rep_from_row(row: Row[Any]) -> Rep:
    return Rep(
        id=row.id,
        name=row.name,
        languages=tuple(code for code in row.languages.split(",") if code),
        telegram_user_id=row.telegram_user_id,
        email=row.email,
        role=row.role,
        capacity=row.capacity,
        on_duty=row.on_duty,
        active=row.active,
    )


class RepRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def add(
        self,
        *,
        name: str,
        languages: tuple[str, ...],
        telegram_user_id: str | None,
        email: str | None,
        role: str,
        capacity: int,
        now: datetime,
    ) -> int:
        statement = reps.insert().values(
            name=name,
            languages=",".join(languages),
            telegram_user_id=telegram_user_id,
            email=email.lower() if email else None,
            role=role,
            capacity=capacity,
            created_at=now,
        )
        return int((await self._db.execute(statement.returning(reps.c.id))).scalar_one())

    async def update(self, rep_id: int, **values: Any) -> bool:
        if "languages" in values:
            values["languages"] = ",".join(values["languages"])
        if values.get("email"):
            values["email"] = values["email"].lower()  # `by_email` looks addresses up lower-cased
        statement = update(reps).where(reps.c.id == rep_id).values(**values)
        return (await self._db.execute(statement)).rowcount == 1

    async def remove(self, rep_id: int) -> bool:
        # A rep who handled hand-offs stays referenced by them: deactivate instead of deleting.
        deactivated = await self.update(rep_id, active=False, on_duty=False)
        if deactivated:
            await self._delete_if_unreferenced(rep_id)
        return deactivated

    async def _delete_if_unreferenced(self, rep_id: int) -> None:
        try:
            async with self._db.savepoint():
                await self._db.execute(delete(reps).where(reps.c.id == rep_id))
        except IntegrityError:  # referenced by a hand-off or a contact: keep it inactive
            return

    async def on_duty(self) -> list[Rep]:
        """Active reps who said they are online, longest since their last assignment first."""
        query = (
            reps.select()
            .where(reps.c.active.is_(True), reps.c.on_duty.is_(True))
            .order_by(reps.c.last_assigned_at.is_not(None), reps.c.last_assigned_at, reps.c.id)
        )
        return [rep_from_row(row) for row in await self._db.execute(query)]

    async def managers(self) -> list[Rep]:
        query = reps.select().where(reps.c.active.is_(True), reps.c.role == "manager")
        return [rep_from_row(row) for row in await self._db.execute(query.order_by(reps.c.id))]

    async def get(self, rep_id: int) -> Rep | None:
        row = (await self._db.execute(reps.select().where(reps.c.id == rep_id))).first()
        return rep_from_row(row) if row else None

    async def search(self, *, include_inactive: bool = False) -> list[Rep]:
        query = reps.select()
        if not include_inactive:
            query = query.where(reps.c.active.is_(True))
        return [rep_from_row(row) for row in await self._db.execute(query.order_by(reps.c.id))]

    async def by_telegram(self, telegram_user_id: str) -> Rep | None:
        query = reps.select().where(
            reps.c.telegram_user_id == telegram_user_id, reps.c.active.is_(True)
        )
        row = (await self._db.execute(query)).first()
        return rep_from_row(row) if row else None

    async def by_address(self, channel: str, address: str) -> Rep | None:
        """The active rep who writes from this channel address, if any."""
        if channel == "telegram":
            return await self.by_telegram(address)
        if channel == "email":
            return await self.by_email(address)
        return None

    async def by_email(self, email: str) -> Rep | None:
        query = reps.select().where(reps.c.email == email.lower(), reps.c.active.is_(True))
        row = (await self._db.execute(query)).first()
        return rep_from_row(row) if row else None
