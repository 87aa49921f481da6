"""The dashboard's charts, drawn as SVG on the server by pygal from the report's figures.

An SVG is served as an image of its own (`<img>`): pygal styles it inline, which the pages'
policy forbids, so the chart carries its own policy (its styles, no script) and its inline
configuration script is taken out — nothing in a chart runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import pygal
from pygal.style import Style

from bot import reports
from bot.reports import FUNNEL

# pygal adds a finder of its plugins to every import that follows (`pygal.maps.*`, unused
# here), whose old-style hook warns on each one: take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

Words = Callable[..., str]  # t(key, **fields)
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = Style(background="white", plot_background="white", colors=("#2459d6", "#17693b", "#a23b00"))
MINUTE = 60.0


def svg(chart: Any) -> str:
    """The chart's SVG without its script."""
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.endswith("script"):
                parent.remove(child)
    return ElementTree.tostring(tree, encoding="unicode")


def _chart(kind: Any, title: str, **options: Any) -> Any:
    return kind(
        js=[], disable_xml_declaration=True, style=STYLE, title=title, height=360,
        print_values=False, legend_at_bottom=True, **options,
    )  # fmt: skip


def funnel(figures: dict[str, Any], words: Words) -> Any:
    chart = _chart(pygal.HorizontalBar, words("dashboard.funnel"), show_legend=False)
    stages = ("conversations", *FUNNEL)
    chart.x_labels = [words(f"dashboard.stage.{stage}") for stage in stages]
    counts = [figures["conversations"]["total"], *(figures["funnel"][s] for s in FUNNEL)]
    chart.add(words("dashboard.count"), counts)
    return chart


def leads_per_day(figures: dict[str, Any], words: Words) -> Any:
    days = figures["leads"]["by_day"]
    chart = _chart(
        pygal.Bar, words("dashboard.leads_per_day"), show_legend=False,
        x_label_rotation=30, show_minor_x_labels=False,
    )  # fmt: skip
    chart.x_labels = list(days)
    chart.x_labels_major_every = max(1, len(days) // 10)
    chart.add(words("dashboard.leads"), list(days.values()))
    return chart


def rep_times(figures: dict[str, Any], words: Words) -> Any:
    """Median speed-to-lead, time to claim and to the first answer per rep, in minutes."""
    series = {
        "dashboard.speed_to_lead": figures["speed_to_lead"]["by_rep"],
        "dashboard.claim": figures["handoffs"]["claim"]["by_rep"],
        "dashboard.first_reply": figures["handoffs"]["first_reply"]["by_rep"],
    }
    reps = sorted({rep for per_rep in series.values() for rep in per_rep})
    chart = _chart(pygal.Bar, words("dashboard.times_chart"))
    chart.x_labels = [_rep(rep, words) for rep in reps]
    for key, per_rep in series.items():
        chart.add(words(key), [_minutes(per_rep.get(rep, {}).get("median")) for rep in reps])
    return chart


def csat(figures: dict[str, Any], words: Words) -> Any:
    by_rep = {_rep(rep, words): value for rep, value in figures["csat"]["by_rep"].items()}
    rated = {**by_rep, **_channels(figures["csat"]["by_channel"], words)}
    chart = _chart(pygal.Bar, words("dashboard.csat"), range=(0, 5), show_legend=False)
    chart.x_labels = list(rated)
    chart.add(words("dashboard.average"), [value["average"] for value in rated.values()])
    return chart


def _channels(per_channel: dict[str, Any], words: Words) -> dict[str, Any]:
    return {words("dashboard.on_channel", channel=name): v for name, v in per_channel.items()}


def _rep(name: str, words: Words) -> str:
    return words("dashboard.no_rep") if name == reports.NONE else name


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / MINUTE, 1)


@dataclass(frozen=True, slots=True)
class Chart:
    draw: Callable[[dict[str, Any], Words], Any]
    sections: tuple[str, ...]  # of the report: what the chart needs read


CHARTS: dict[str, Chart] = {
    "funnel": Chart(funnel, ("conversations", "leads")),
    "leads_per_day": Chart(leads_per_day, ("leads",)),
    "rep_times": Chart(rep_times, ("speed_to_lead", "handoffs")),
    "csat": Chart(csat, ("csat",)),
}
