"""Rows for the managers' CSV exports: leads, contacts and tickets, read in pages by id, so an
export of years of history never holds it all in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from storage.connection import SqlConnection
from storage.tables import contacts, conversations, identities, leads, reps, service_requests

PAGE = 500


class ExportRepository:
    def __init__(self, connection: SqlConnection) -> None:
        self._db = connection

    async def leads(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        owner = reps.alias("owner")
        query = select(
            leads,
            conversations.c.channel,
            owner.c.name.label("owner"),
        ).select_from(
            leads.outerjoin(conversations, conversations.c.id == leads.c.conversation_id).outerjoin(
                owner, owner.c.id == leads.c.owner_rep_id
            )
        )
        query = _between(query, leads.c.created_at, since, until)
        async for row in self._pages(query, leads.c.id):
            yield row

    async def contacts(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        query = _between(select(contacts), contacts.c.created_at, since, until)
        async for page in self._paged(query, contacts.c.id):
            ids = [row["id"] for row in page]
            query = select(identities).where(identities.c.contact_id.in_(ids))
            found = (await self._db.execute(query.order_by(identities.c.id))).mappings().all()
            for row in page:
                mine = [i for i in found if i["contact_id"] == row["id"]]
                row["verified"] = [f"{i['channel']}:{i['address']}" for i in mine if i["verified"]]
                row["claimed"] = [
                    f"{i['channel']}:{i['address']}" for i in mine if not i["verified"]
                ]
                yield row

    async def tickets(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        query = select(
            service_requests,
            contacts.c.display_name.label("contact_name"),
            conversations.c.channel,
        ).select_from(
            service_requests.join(
                contacts, contacts.c.id == service_requests.c.contact_id
            ).outerjoin(conversations, conversations.c.id == service_requests.c.conversation_id)
        )
        query = _between(query, service_requests.c.created_at, since, until)
        async for row in self._pages(query, service_requests.c.id):
            yield row

    async def _pages(self, query: Select[Any], key: Any) -> AsyncIterator[dict[str, Any]]:
        async for page in self._paged(query, key):
            for row in page:
                yield row

    async def _paged(self, query: Select[Any], key: Any) -> AsyncIterator[list[dict[str, Any]]]:
        after = 0
        while True:
            result = await self._db.execute(query.where(key > after).order_by(key).limit(PAGE))
            page = [dict(row) for row in result.mappings()]
            if page:
                yield page
            if len(page) < PAGE:
                return
            after = page[-1]["id"]


def _between(
    query: Select[Any], column: Any, since: datetime | None, until: datetime | None
) -> Select[Any]:
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query
