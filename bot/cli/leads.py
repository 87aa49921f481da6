"""`touchpoint leads`: the pipeline as a manager sees it, and the changes a rep or a manager
makes to it from the terminal.

A change names who makes it (`--as NAME`: a registered rep or manager) and runs as a turn of
the lead's conversation (handlers/office.py), so its touchpoints land on the customer's
timeline with the actor `operator` and the person's rep id. A rep changes only their own
leads; a manager any, and only a manager assigns them.
"""

from __future__ import annotations

from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo

import typer

from bot.cli import output as out
from bot.cli.common import (
    CLI_CHANNEL,
    fail,
    manager,
    moment_option,
    not_found,
    person,
    reading,
    settings_or_exit,
    with_dispatcher,
)
from bot.model import utc_now
from bot.records import LEAD_STAGES, Lead, Rep
from handlers import lead_desk, office
from handlers.lead_desk import Step
from storage.repos.leads import ORDERS, LeadFilter, LeadOrder
from storage.uow import UnitOfWork

leads_app = typer.Typer(
    help="Leads captured by the bot, and the sales pipeline.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
As = Annotated[
    str,
    typer.Option("--as", help="Who makes the change: a registered rep or manager (name or id)."),
]
STATUSES = ("waiting", *LEAD_STAGES)
TABLE = (
    "id",
    "status",
    "owner",
    "name",
    "company",
    "need",
    "score",
    "source",
    "channel",
    "created",
    "next step due",
)
NEED_PREVIEW = 40


# --- reading -----------------------------------------------------------------------------------


@leads_app.command("list")
def leads_list(
    as_json: JsonFlag = False,
    status: Annotated[
        str | None,
        typer.Option(help=f"Only leads in this status: {', '.join(STATUSES)}."),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only this rep's leads (name or id).")] = None,
    unowned: Annotated[bool, typer.Option("--unowned", help="Only leads nobody owns.")] = False,
    source: Annotated[str | None, typer.Option(help="Only leads from this campaign.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only leads on this channel.")] = None,
    min_score: Annotated[int | None, typer.Option(help="Only leads scoring at least this.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Came in on or after: YYYY-MM-DD or an ISO time.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Came in before: YYYY-MM-DD (that day included) or an ISO time."),
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only leads not won or lost.")] = False,
    sort: Annotated[str, typer.Option(help="newest, oldest, score or updated.")] = "newest",
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
) -> None:
    """List leads, newest first. Dates are in TIMEZONE."""
    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"use one of {', '.join(STATUSES)}", param_hint="--status")
    if sort not in ORDERS:
        raise typer.BadParameter(f"use one of {', '.join(ORDERS)}", param_hint="--sort")
    if owner is not None and unowned:
        raise typer.BadParameter("give --owner or --unowned, not both", param_hint="--unowned")
    order = cast(LeadOrder, sort)
    zone = settings_or_exit().zone
    where = LeadFilter(
        status=status,
        owner_rep_id=person(owner, "--owner").id if owner is not None else None,
        unowned=unowned,
        source=source,
        channel=channel,
        min_score=min_score,
        since=moment_option(since, zone, "--since") if since else None,
        until=moment_option(until, zone, "--until", day_end=True) if until else None,
        open_only=open_only,
    )

    views = reading(lambda uow: _listed(uow, where, order, limit))
    if as_json:
        out.rows(views, True, ())
        return
    out.rows([_row(view, zone) for view in views], False, TABLE)


async def _listed(
    uow: UnitOfWork, where: LeadFilter, order: LeadOrder, limit: int
) -> list[dict[str, Any]]:
    """The leads as JSON-ready dicts, with their owner's name and their channel."""
    found = await uow.leads.search(where=where, order=order, limit=limit)
    channels = await uow.leads.channels([lead.id for lead in found])
    names = await _names(uow)
    return [
        {
            **out.plain(lead),
            "owner": names.get(lead.owner_rep_id or 0),
            "channel": channels.get(lead.id),
        }
        for lead in found
    ]


async def _names(uow: UnitOfWork) -> dict[int, str]:
    """Every rep's name, a removed rep's too (their leads and notes stay theirs)."""
    return {rep.id: rep.name for rep in await uow.reps.search(include_inactive=True)}


def _row(view: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    need = " ".join(view["need"].split())
    return {
        **view,
        "need": need if len(need) <= NEED_PREVIEW else need[: NEED_PREVIEW - 1] + "…",
        "created": _local(view["created_at"], zone),
        "next step due": _local(view["next_step_due_at"], zone),
    }


def _local(moment: str | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else out.local_time(moment, zone)


@leads_app.command("show")
def leads_show(lead_id: int, as_json: JsonFlag = False) -> None:
    """Show one lead: its fields, its owner, the notes on it and its history."""

    async def load(uow: UnitOfWork) -> dict[str, Any] | None:
        lead = await uow.leads.get(lead_id)
        if lead is None:
            return None
        names = await _names(uow)
        timeline = await uow.touchpoints.search(contact_id=lead.contact_id, limit=10_000)
        channel = (await uow.leads.channels([lead.id])).get(lead.id)
        return {
            **out.plain(lead),
            "owner": names.get(lead.owner_rep_id or 0),
            "channel": channel,
            "notes": [
                {
                    "author": names.get(note.rep_id or 0, note.author),
                    "created_at": note.created_at.isoformat(),
                    "text": note.text,
                }
                for note in await uow.leads.notes(lead.id)
            ],
            "history": [
                out.plain(event) for event in timeline if event.details.get("lead_id") == lead.id
            ],
        }

    view = reading(load)
    if view is None:
        raise not_found(f"lead {lead_id}")
    if as_json:
        out.record(view, True)
        return
    out.lead(view, settings_or_exit().zone)


# --- changing ----------------------------------------------------------------------------------


@leads_app.command("assign")
def leads_assign(
    lead_id: int,
    rep: Annotated[str, typer.Option("--rep", help="The rep who takes the lead (name or id).")],
    as_name: As,
) -> None:
    """Give a lead to a rep (a manager's decision): the rep gets the card, whoever had it is
    told, and so is the customer."""
    by = manager(as_name)
    lead = _lead(lead_id)
    new = person(rep, "--rep")
    refusal = office.assign_refusal(lead, new)
    if refusal == "unreachable":
        raise fail(f"{new.name} cannot be reached: no Telegram or email address registered")
    if refusal == "closed":
        raise fail(f"lead {lead_id} is {lead.status}: a closed lead is not assigned")
    if refusal == "already":
        typer.echo(f"lead {lead_id} is already {new.name}'s")
        return
    if not with_dispatcher(lambda turns: office.give_lead(turns, lead, new, by)):
        raise fail(f"lead {lead_id} could not be assigned (it has no conversation)")
    typer.echo(f"lead {lead_id} assigned to {new.name}")


@leads_app.command("set-status")
def leads_set_status(
    lead_id: int,
    stage: Annotated[str, typer.Argument(help=", ".join(LEAD_STAGES))],
    as_name: As,
    reason: Annotated[str | None, typer.Option(help="Why the lead was lost (needed).")] = None,
) -> None:
    """Move a lead in the pipeline (a stage past `new` is the first contact)."""
    stage = stage.strip().lower()
    refusal = office.stage_refusal(stage, reason)
    if refusal == "unknown_stage":
        raise fail(f"unknown stage {stage!r}: use {', '.join(LEAD_STAGES)}", 2)
    if refusal == "needs_reason":
        raise fail("a lost lead needs --reason", 2)
    lead, who = _workable(lead_id, as_name)
    text = office.stage_line(stage, reason)
    step = _step(
        lead, who, lambda ctx, lead, rep, now: lead_desk.set_stage(ctx, lead, rep, text, now)
    )
    typer.echo(f"lead {lead_id} {'is now' if step else 'was already'} {stage}")


@leads_app.command("note")
def leads_note(lead_id: int, text: str, as_name: As) -> None:
    """Add a note to a lead."""
    if not text.strip():
        raise fail("the note is empty", 2)
    lead, who = _workable(lead_id, as_name)
    _step(lead, who, lambda ctx, lead, rep, now: lead_desk.note(ctx, lead, rep, text, now))
    typer.echo(f"lead {lead_id}: note added")


@leads_app.command("next-step")
def leads_next_step(
    lead_id: int,
    when: Annotated[
        str, typer.Argument(help='e.g. "tomorrow 10:00", "in 2 hours", "2026-03-02 9:30".')
    ],
    text: Annotated[str, typer.Argument(help="What is to be done then.")],
    as_name: As,
) -> None:
    """Set a lead's next step: its owner is reminded when it comes due."""
    zone = settings_or_exit().zone
    if not office.reads_as_time(when, utc_now(), zone):
        raise fail(f'cannot read WHEN {when!r}: say e.g. "tomorrow 10:00" or "in 2 hours"', 2)
    line = office.next_step_line(when, text, utc_now(), zone)
    if line is None:
        raise fail("say what the next step is", 2)
    lead, who = _workable(lead_id, as_name)
    step = _step(
        lead, who, lambda ctx, lead, rep, now: lead_desk.next_step(ctx, lead, rep, line, now)
    )
    due = next((e.details["due"] for e in step.events), None) if step else None
    typer.echo(f"lead {lead_id}: next step {text.strip()!r} due {_local(due, zone)}")


def _lead(lead_id: int) -> Lead:
    lead = reading(lambda uow: uow.leads.get(lead_id))
    if lead is None:
        raise not_found(f"lead {lead_id}")
    return lead


def _workable(lead_id: int, as_name: str) -> tuple[Lead, Rep]:
    """The lead and who works it, when they may (a rep their own lead, a manager any)."""
    who = person(as_name)
    lead = _lead(lead_id)
    if not lead_desk.may_work(who, lead):
        raise fail(f"lead {lead_id} is not {who.name}'s: a rep changes only their own leads")
    return lead, who


def _step(lead: Lead, who: Rep, work: office.LeadWork) -> Step | None:
    """`work` as a turn of the lead's conversation (office.change_lead); the step, or None
    when nothing changed."""
    return with_dispatcher(
        lambda turns: office.change_lead(turns, lead, who, work, channel=CLI_CHANNEL)
    )
