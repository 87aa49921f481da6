"""`/touchpoints`: the touchpoints behind a dashboard figure (conversations, speed-to-lead,
hand-off times, ratings), chosen by the same rules as the report, newest first, a page at a time.
A rep sees only the rows of contacts they work (web/access.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import report_rows
from bot.records import TouchpointRow
from storage.uow import UnitOfWork
from web.access import contacts_seen_by
from web.console import console_of
from web.i18n import translate
from web.pages import BadInput, page_language, render
from web.periods import ShownPeriod
from web.routes.dashboard import duration, period_of
from web.viewer import Viewer, viewer_of

routes = web.RouteTableDef()
PER_PAGE = 50
LONGEST_CHANNEL = 32


@dataclass(frozen=True, slots=True)
class Listed:
    total: int
    shown: list[TouchpointRow]
    names: dict[int, str]  # contacts
    reps: dict[int, str]


@routes.get("/touchpoints")
async def touchpoints(request: web.Request) -> web.StreamResponse:
    viewer = viewer_of(request)
    if not request.query.get("kind"):  # no figure named: the figures are on the dashboard
        raise web.HTTPSeeOther("/")
    shown = period_of(request)
    wanted = _wanted(request, shown)
    page = _number(request, "page", 1)
    listed = await console_of(request).read(lambda uow: _listed(uow, viewer, wanted, page))
    lang = page_language(request)
    pages = max(1, -(-listed.total // PER_PAGE))
    return render(
        request,
        "dashboard/touchpoints.html",
        {
            "wanted": wanted,
            "shown": shown,
            "listed": listed,
            "page": page,
            "pages": pages,
            "page_link": lambda n: _page_link(request, n),
            "details": lambda row: details(row, listed.reps, lang),
        },
    )


def _wanted(request: web.Request, shown: ShownPeriod) -> report_rows.Wanted:
    figure = request.query.get("kind", "")
    if figure not in report_rows.FIGURES:
        raise BadInput(f"kind must be one of {', '.join(report_rows.FIGURES)}")
    channel = request.query.get("channel") or None
    if channel is not None and (len(channel) > LONGEST_CHANNEL or not channel.isprintable()):
        raise BadInput("channel is not a channel's name")
    return report_rows.Wanted(figure, shown.period, _rep(request), channel)


def _rep(request: web.Request) -> int | None:
    given = request.query.get("rep") or None
    if given is None:
        return None
    if given == "none":
        return report_rows.NO_REP
    return _number(request, "rep", 0)


def _number(request: web.Request, name: str, default: int) -> int:
    given = request.query.get(name, "")
    if not given:
        return default
    if not given.isdigit() or len(given) > 9 or int(given) < 1:
        raise BadInput(f"{name} must be a positive whole number")
    return int(given)


async def _listed(uow: UnitOfWork, viewer: Viewer, wanted: report_rows.Wanted, page: int) -> Listed:
    seen = await contacts_seen_by(uow, viewer)
    found = await report_rows.page(
        uow, wanted, contacts=seen, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    names = await uow.contacts.names({row.contact_id for row in found.rows if row.contact_id})
    reps = {rep.id: rep.name for rep in await uow.reps.search(include_inactive=True)}
    return Listed(found.total, found.rows, names, reps)


def _page_link(request: web.Request, page: int) -> str:
    return "/touchpoints?" + urlencode({**request.query, "page": str(page)})


def details(row: TouchpointRow, reps: dict[int, str], lang: str) -> list[tuple[str, str | None]]:
    """What a touchpoint says, in words, each with a link where there is a page for it."""
    said: list[tuple[str, str | None]] = []
    facts: dict[str, Any] = row.details
    if "lead_id" in facts:
        lead = facts["lead_id"]
        said.append((translate("touchpoints.lead", lang, id=lead), f"/leads/{lead}"))
    if "handoff_id" in facts:
        handoff = facts["handoff_id"]
        said.append((translate("touchpoints.handoff", lang, id=handoff), f"/handoffs/{handoff}"))
    if facts.get("rep_id") is not None:
        name = reps.get(int(facts["rep_id"]), str(facts["rep_id"]))
        said.append((translate("touchpoints.rep", lang, name=name), None))
    if facts.get("latency") is not None:
        span = duration(float(facts["latency"]), lang)
        said.append((translate("touchpoints.latency", lang, span=span), None))
    if report_rows.FIGURES["csat"].counts(row):
        said.append((translate("touchpoints.rating", lang, rating=facts["rating"]), None))
    return said
