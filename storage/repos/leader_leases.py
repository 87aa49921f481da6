"""Leader leases: the row that says which instance does a piece of work done by one at a time.

Taking is one statement (an insert that, on the name's row, updates it only when the lease has
expired or is the taker's own from before a restart), so two instances racing for it cannot
both win: PostgreSQL re-checks the condition on the row the other just wrote, and SQLite has one
writer. Renewing and releasing act only under the token the lease was taken with, so a holder
whose lease was taken over changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.connection import SqlConnection
from storage.sql import PerDialect
from storage.tables import leader_leases


def _take(*, own_too: bool) -> PerDialect:
    """Taking a free or expired lease, and (`own_too`) the taker's own unexpired one."""
    forms = []
    for module in (postgresql, sqlite):
        statement = module.insert(leader_leases)
        expired = leader_leases.c.expires_at < bindparam("now")
        free_or_ours = (
            or_(expired, leader_leases.c.holder == statement.excluded.holder)
            if own_too
            else expired
        )
        changing = {name: statement.excluded[name] for name in ("holder", "token", "expires_at")}
        forms.append(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={**changing, "taken_at": statement.excluded.taken_at},
                where=free_or_ours,
            ).returning(leader_leases.c.token)
        )
    return PerDialect(*forms)


TAKE = _take(own_too=True)
TAKE_FREE = _take(own_too=False)
HELD = (leader_leases.c.name == bindparam("lease"), leader_leases.c.token == bindparam("held"))
RENEW = (
    update(leader_leases)
    .where(*HELD)
    .values(expires_at=bindparam("until"))
    .returning(leader_leases.c.name)
)
RELEASE = delete(leader_leases).where(*HELD)
EXPIRY = select(leader_leases.c.expires_at).where(leader_leases.c.name == bindparam("lease"))
HOLDER = select(leader_leases.c.holder).where(leader_leases.c.name == bindparam("lease"))


class LeaderLeaseRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def take(
        self,
        name: str,
        holder: str,
        token: str,
        now: datetime,
        until: datetime,
        *,
        own_too: bool = True,
    ) -> bool:
        """Whether `holder` now holds `name` under `token`: it was free, expired, or (`own_too`)
        its own."""
        values = {
            "name": name, "holder": holder, "token": token,
            "expires_at": until, "taken_at": now, "now": now,
        }  # fmt: skip
        statement = TAKE if own_too else TAKE_FREE
        return (await self._db.execute(statement.on(self._db), values)).first() is not None

    async def renew(self, name: str, token: str, until: datetime) -> bool:
        """Extend the lease; False (nothing changed) when it is no longer held under `token`."""
        found = await self._db.execute(RENEW, {"lease": name, "held": token, "until": until})
        return found.first() is not None

    async def release(self, name: str, token: str) -> None:
        await self._db.execute(RELEASE, {"lease": name, "held": token})

    async def expires_at(self, name: str) -> datetime | None:
        return (await self._db.execute(EXPIRY, {"lease": name})).scalar_one_or_none()

    async def holder(self, name: str) -> str | None:
        return (await self._db.execute(HOLDER, {"lease": name})).scalar_one_or_none()
