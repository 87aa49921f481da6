"""The dashboard: the report of a period (`touchpoint report`'s figures), its charts, and a link
from every figure to the rows behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import reports
from bot.periods import PeriodError
from storage.uow import UnitOfWork
from web import charts
from web.console import Console, console_of
from web.i18n import translate
from web.pages import SECURITY_HEADERS, BadInput, page_language, render
from web.periods import ShownPeriod, quick_choices, shown_period
from web.viewer import viewer_of

routes = web.RouteTableDef()


@routes.get("/")
async def dashboard(request: web.Request) -> web.StreamResponse:
    viewer_of(request)
    console = console_of(request)
    shown = period_of(request)
    figures, rep_ids = await console.read(lambda uow: _figures(uow, console, shown))
    lang = page_language(request)
    return render(
        request,
        "dashboard/index.html",
        {
            "f": figures,
            "shown": shown,
            "links": Links(shown, rep_ids),
            "choices": quick_choices(console.config.zone, console.clock()),
            "span": lambda seconds: duration(seconds, lang),
            "charts": tuple(charts.CHARTS),
            "stages": reports.FUNNEL,
        },
    )


@routes.get(r"/charts/{name:[a-z_]+}.svg")
async def chart(request: web.Request) -> web.StreamResponse:
    wanted = charts.CHARTS.get(request.match_info["name"])
    if wanted is None:
        raise web.HTTPNotFound()
    console = console_of(request)
    shown = period_of(request)
    figures, _ = await console.read(lambda uow: _figures(uow, console, shown, wanted.sections))
    lang = page_language(request)
    drawn = wanted.draw(figures, lambda key, **fields: translate(key, lang, **fields))
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": charts.CHART_POLICY}
    return web.Response(text=charts.svg(drawn), content_type="image/svg+xml", headers=headers)


def period_of(request: web.Request) -> ShownPeriod:
    """The page's period; a 400 page naming what is wrong with it."""
    console = console_of(request)
    try:
        return shown_period(request.query, console.config.zone, console.clock())
    except PeriodError as error:
        raise BadInput(str(error)) from None


async def _figures(
    uow: UnitOfWork,
    console: Console,
    shown: ShownPeriod,
    sections: tuple[str, ...] = reports.SECTIONS,
) -> tuple[dict[str, Any], dict[str, int]]:
    figures = await reports.build(
        uow, shown.period, now=console.clock(), followup_after=console.config.followup_after,
        zone=console.config.zone, sections=sections,
    )  # fmt: skip
    rep_ids = {rep.name: rep.id for rep in await uow.reps.search(include_inactive=True)}
    return figures, rep_ids


@dataclass(frozen=True, slots=True)
class Links:
    """Where each figure's rows are: leads on the pipeline, tickets on the tickets page, the
    rest on the touchpoints page — with the filters that make the figure."""

    shown: ShownPeriod
    rep_ids: dict[str, int]

    def pipeline(self, day: str | None = None, **filters: str) -> str:
        period = {"since": day, "until": day} if day else self.shown.query
        return "/pipeline?" + urlencode({**filters, **period})

    @staticmethod
    def stage(stage: str) -> dict[str, str]:
        """The pipeline's filter for the leads of a funnel stage (all of them: captured)."""
        return {} if stage == "captured" else {"status": stage}

    def tickets(self, *, in_period: bool = True, **filters: str) -> str:
        return "/tickets?" + urlencode({**filters, **(self.shown.query if in_period else {})})

    def rows(self, kind: str, *, rep: str | None = None, channel: str | None = None) -> str:
        query = {"kind": kind}
        if rep is not None:
            query["rep"] = self.rep(rep)
        if channel is not None:
            query["channel"] = channel
        return "/touchpoints?" + urlencode({**query, **self.shown.query})

    def rep(self, name: str) -> str:
        if name == reports.NONE:
            return "none"
        known = self.rep_ids.get(name)
        return str(known) if known is not None else name.removeprefix("rep ")


def duration(seconds: float | None, lang: str) -> str:
    """A time in words: seconds under two minutes, minutes under two hours, then hours."""
    if seconds is None:
        return translate("common.never", lang)
    if seconds < 120:
        return translate("dashboard.seconds", lang, n=f"{seconds:.0f}")
    if seconds < 7200:
        return translate("dashboard.minutes", lang, n=f"{seconds / 60:.1f}")
    return translate("dashboard.hours", lang, n=f"{seconds / 3600:.1f}")
