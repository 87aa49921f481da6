"""The pipeline board: leads as cards in columns by status, filtered like `touchpoint leads
list`. A rep sees their own leads (owned, or offered to them now); a manager all of them.

Each column shows at most `CARD_LIMIT` cards (newest first) and says how many more there are,
with a link that narrows the board to that column, so a board stays fast with many leads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.dates import read_moment
from bot.records import LEAD_STAGES, Lead
from storage.repos.leads import LeadFilter
from storage.uow import UnitOfWork
from web.console import console_of
from web.form_fields import BadInput, query_text, whole_number
from web.lead_views import Card, card_of, rep_names
from web.pages import render
from web.viewer import Viewer, viewer_of

routes = web.RouteTableDef()

STATUSES = ("waiting", *LEAD_STAGES)
CARD_LIMIT = 100
MAX_SCORE = 100


@dataclass(frozen=True, slots=True)
class BoardQuery:
    """The board's filters as typed in its address ("" leaves one out)."""

    owner: str = ""
    source: str = ""
    channel: str = ""
    status: str = ""
    min_score: str = ""
    since: str = ""
    until: str = ""

    @classmethod
    def of(cls, request: web.Request) -> BoardQuery:
        given = request.query
        return cls(**{f.name: query_text(given.get(f.name, "")) for f in fields(cls)})

    def link(self, **changes: str) -> str:
        chosen = {k: v for k, v in asdict(replace(self, **changes)).items() if v}
        return "/pipeline" + (f"?{urlencode(chosen)}" if chosen else "")


@dataclass(frozen=True, slots=True)
class Column:
    status: str
    cards: list[Card]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.cards)


def lead_filter(query: BoardQuery, viewer: Viewer, zone: ZoneInfo) -> LeadFilter:
    """The filter the query names, for what the viewer may see; raises `BadInput`."""
    if query.status and query.status not in STATUSES:
        raise BadInput("pipeline.bad_status")
    score = whole_number(query.min_score, key="pipeline.bad_score") if query.min_score else None
    if score is not None and score > MAX_SCORE:
        raise BadInput("pipeline.bad_score")
    return LeadFilter(
        status=query.status or None,
        unowned=query.owner == "none",
        owner_rep_id=_owner(query.owner),
        source=query.source or None,
        channel=query.channel or None,
        min_score=score,
        since=_moment(query.since, zone),
        until=_moment(query.until, zone, day_end=True),
        seen_by_rep_id=None if viewer.manager else viewer.rep.id,
    )


def _owner(text: str) -> int | None:
    if text in ("", "none"):
        return None
    return whole_number(text, key="pipeline.bad_owner")


def _moment(text: str, zone: ZoneInfo, *, day_end: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        return read_moment(text, zone, day_end=day_end)
    except ValueError:
        raise BadInput("pipeline.bad_date") from None


async def columns(uow: UnitOfWork, where: LeadFilter, now: datetime) -> list[Column]:
    totals = await uow.leads.counts_by_status(where)
    names = await rep_names(uow)
    shown = [where.status] if where.status else list(STATUSES)
    found = []
    for status in shown:
        leads = await _column_leads(uow, replace(where, status=status), totals.get(status, 0))
        channels = await uow.leads.channels([lead.id for lead in leads])
        cards = [card_of(lead, names, channels.get(lead.id), now) for lead in leads]
        found.append(Column(status, cards, totals.get(status, 0)))
    return found


async def _column_leads(uow: UnitOfWork, where: LeadFilter, total: int) -> list[Lead]:
    if total == 0:
        return []
    return await uow.leads.search(where=where, limit=CARD_LIMIT, order="newest")


@routes.get("/pipeline")
async def board(request: web.Request) -> web.StreamResponse:
    viewer = viewer_of(request)
    console = console_of(request)
    query = BoardQuery.of(request)
    try:
        where = lead_filter(query, viewer, console.config.zone)
    except BadInput as bad:
        return await _board_page(request, query, [], problem=bad.key, status=400)
    now = console.clock()
    found = await console.read(lambda uow: columns(uow, where, now))
    return await _board_page(request, query, found)


async def _board_page(
    request: web.Request, query: BoardQuery, found: list[Column], *, problem: str | None = None,
    status: int = 200,
) -> web.StreamResponse:  # fmt: skip
    console = console_of(request)
    viewer = viewer_of(request)
    team = await console.read(lambda uow: uow.reps.search()) if viewer.manager else []
    context = {
        "query": query,
        "columns": found,
        "statuses": STATUSES,
        "stages": LEAD_STAGES,
        "team": team,
        "problem": problem,
        "back": request.path_qs,
    }
    return render(request, "pipeline/board.html", context, status=status)
