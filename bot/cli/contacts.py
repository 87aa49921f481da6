"""`touchpoint contacts`: who the bot knows, their timelines, and undoing a merge of two."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import typer

from bot.cli import output as out
from bot.cli.common import (
    contact_turn,
    fail,
    manager,
    moment_option,
    not_found,
    person,
    reading,
    settings_or_exit,
)
from bot.kinds import Actor, TouchpointKind
from bot.model import utc_now
from bot.records import ContactMerge
from bot.turn import ContactEvent, Context, Event
from handlers.contact_desk import MEDIUMS, CannotLog, log_offline
from handlers.identity import CannotMerge, CannotUnmerge, merge_contacts, unmerge
from storage.uow import UnitOfWork

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Limit = Annotated[int, typer.Option(help="At most this many rows, newest first.")]
TIMELINE_LIMIT = 1000
TABLE_NAMES = {"service_requests": "tickets", "handoffs": "hand-offs"}

contacts_app = typer.Typer(help="Contacts, their timelines and merges.", no_args_is_help=True)


@contacts_app.command("list")
def contacts_list(as_json: JsonFlag = False, limit: Limit = 200) -> None:
    """List contacts."""
    out.rows(reading(lambda uow: uow.contacts.search(limit=limit)), as_json, out.CONTACT_COLUMNS)


@contacts_app.command("show")
def contacts_show(contact_id: int, as_json: JsonFlag = False) -> None:
    """Show a contact with identities, leads, tickets, merges in and out, and the touchpoint
    timeline (with that of every contact merged into it)."""
    view = reading(partial(_contact_view, contact_id=contact_id))
    if view is None:
        raise not_found(f"contact {contact_id}")
    out.contact(view, as_json)


async def _contact_view(uow: UnitOfWork, *, contact_id: int) -> dict[str, Any] | None:
    contact = await uow.contacts.get(contact_id)
    if contact is None:
        return None
    timeline = await uow.touchpoints.search(contact_id=contact_id, limit=TIMELINE_LIMIT)
    return {
        **out.plain(contact),
        "identities": [out.plain(item) for item in await uow.contacts.identities(contact_id)],
        "leads": [out.plain(lead) for lead in await uow.leads.search(contact_id=contact_id)],
        "tickets": [out.ticket_view(t) for t in await uow.tickets.search(contact_id=contact_id)],
        "merges": [_merge_view(m, contact_id) for m in await uow.merges.of_contact(contact_id)],
        "timeline": [out.plain(touchpoint) for touchpoint in timeline],
    }


def _merge_view(merge: ContactMerge, contact_id: int) -> dict[str, Any]:
    into = merge.source_contact_id != contact_id
    return {
        "merge_id": merge.id,
        "direction": "in" if into else "out",
        "contact_id": merge.source_contact_id if into else merge.target_contact_id,
        "merged_at": merge.merged_at.isoformat(),
        "undone_at": merge.undone_at.isoformat() if merge.undone_at else None,
        "moved": merge.counts,
    }


@contacts_app.command("unmerge")
def contacts_unmerge(merge_id: int) -> None:
    """Undo a merge of two contacts (its id is in `contacts show`): the identities,
    conversations, leads, tickets and hand-offs it moved go back; what was made since stays."""
    try:
        contact_turn(lambda ctx, now: unmerge(ctx, merge_id, now))
    except CannotUnmerge as error:
        typer.echo(f"touchpoint: {error}", err=True)
        raise typer.Exit(1) from None
    merge = reading(lambda uow: uow.merges.get(merge_id))
    assert merge is not None
    moved = ", ".join(f"{TABLE_NAMES.get(t, t)} {n}" for t, n in merge.counts.items())
    typer.echo(
        f"merge {merge_id} undone: contacts {merge.source_contact_id} and "
        f"{merge.target_contact_id} are apart again (moved back: {moved})"
    )


@contacts_app.command("merge")
def contacts_merge(
    source: int,
    target: int,
    as_name: Annotated[str, typer.Option("--as", help="The manager who decides it (name or id).")],
) -> None:
    """Merge contact SOURCE into TARGET: one person known as two (a manager's decision; undo
    it with `unmerge`). Its identities, conversations, leads, tickets and hand-offs move."""
    by = manager(as_name)
    try:
        contact_turn(lambda ctx, now: merge_contacts(ctx, source, target, by, now))
    except CannotMerge as error:
        raise fail(str(error)) from None
    merge = reading(lambda uow: uow.merges.standing_out_of(source))
    assert merge is not None
    typer.echo(f"contact {source} merged into contact {target} (merge {merge.id})")


LOG_WORDS = {
    "medium": f"--kind: use one of {', '.join(MEDIUMS)}",
    "outcome": "--outcome is empty",
    "future": "--when is in the future",
}


@contacts_app.command("log")
def contacts_log(
    contact_id: int,
    kind: Annotated[str, typer.Option("--kind", help=f"One of {', '.join(MEDIUMS)}.")],
    outcome: Annotated[str, typer.Option(help="What came of it, in a few words.")],
    as_name: Annotated[str, typer.Option("--as", help="Who had it (name or id).")],
    when: Annotated[
        str | None, typer.Option(help="When it happened (ISO time in TIMEZONE); now if not given.")
    ] = None,
) -> None:
    """Record a contact point outside the channels (a call, a meeting, a note) on the
    contact's timeline."""
    who = person(as_name)
    at = moment_option(when, settings_or_exit().zone, "--when") if when else utc_now()
    try:
        logged = contact_turn(
            lambda ctx, now: log_offline(ctx, contact_id, who, kind.strip().lower(), outcome,
                                         at, now)
        )  # fmt: skip
    except CannotLog as error:
        raise fail(LOG_WORDS[error.code], 2) from None
    if not logged:
        raise not_found(f"contact {contact_id}")
    typer.echo(f"contact {contact_id}: {kind.strip().lower()} logged")


@contacts_app.command("forget")
def contacts_forget(
    contact_id: int,
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking.")] = False,
) -> None:
    """Erase one person: identities, every text and payload of their conversations, what
    their leads and tickets say. Touchpoints stay as anonymous counts. Cannot be undone."""
    if not yes:
        typer.confirm(f"Erase everything contact {contact_id} said and gave?", abort=True)
    if not contact_turn(lambda ctx, now: forget(ctx, contact_id)):
        raise not_found(f"contact {contact_id}")
    typer.echo(f"contact {contact_id} forgotten")


async def forget(ctx: Context, contact_id: int) -> tuple[ContactEvent, ...] | None:
    if not await ctx.uow.retention.forget_contact(contact_id):
        return None
    event = Event(TouchpointKind.CONTACT_FORGOTTEN, {}, Actor.OPERATOR)
    return (ContactEvent(contact_id, event),)
