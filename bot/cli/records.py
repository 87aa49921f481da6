"""CLI commands that show (and for tickets, hand-offs and reps, change) what the bot recorded.

A change is a turn through the dispatcher, like a customer's message: the touchpoints it
leaves carry the actor `operator`.

Every `list` takes `--json` and prints a JSON array; every `show` with `--json` prints one object.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli import output as out
from bot.cli.common import (
    fail,
    not_found,
    operator_turn,
    person,
    reading,
    system_turn,
    unreachable_here,
)
from bot.cli.contacts import contacts_app
from bot.cli.leads import leads_app
from bot.cli.reps import reps_app
from bot.cli.webhooks import webhooks_app
from bot.kinds import Actor
from bot.records import Ticket, ticket_id_from_number
from bot.turn import Context, Result, Turn
from handlers import office
from handlers.assignment import reassign
from storage.repos.tickets import STATUSES
from storage.uow import UnitOfWork

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Limit = Annotated[int, typer.Option(help="At most this many rows, newest first.")]

tickets_app = typer.Typer(help="Service requests (tickets).", no_args_is_help=True)
handoffs_app = typer.Typer(help="Hand-offs to human reps.", no_args_is_help=True)
touchpoints_app = typer.Typer(help="The touchpoint timeline.", no_args_is_help=True)
dead_letters_app = typer.Typer(
    help="Inbound messages parked because they failed, and webhook deliveries given up.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    for name, group in (
        ("leads", leads_app),
        ("tickets", tickets_app),
        ("handoffs", handoffs_app),
        ("contacts", contacts_app),
        ("touchpoints", touchpoints_app),
        ("reps", reps_app),
        ("dead-letters", dead_letters_app),
        ("webhooks", webhooks_app),
    ):
        app.add_typer(group, name=name)


# --- tickets --------------------------------------------------------------------------------


@tickets_app.command("list")
def tickets_list(
    as_json: JsonFlag = False,
    status: Annotated[str | None, typer.Option(help="Only tickets in this status.")] = None,
    limit: Limit = 200,
) -> None:
    """List service requests."""
    tickets = reading(lambda uow: uow.tickets.search(status=status, limit=limit))
    out.rows([out.ticket_view(ticket) for ticket in tickets], as_json, out.TICKET_COLUMNS)


@tickets_app.command("show")
def tickets_show(number: int, as_json: JsonFlag = False) -> None:
    """Show one ticket by its public number, with its notes."""

    async def load(uow: UnitOfWork) -> dict[str, Any] | None:
        ticket = await uow.tickets.get(ticket_id_from_number(number))
        if ticket is None:
            return None
        notes = await uow.tickets.notes(ticket.id)
        return {**out.ticket_view(ticket), "notes": [out.note_view(*note) for note in notes]}

    view = reading(load)
    if view is None:
        raise not_found(f"ticket #{number}")
    out.record(view, as_json)


ActingAs = Annotated[
    str,
    typer.Option("--as", help="Who does it: a registered rep or manager (their name or id)."),
]


@tickets_app.command("set-status")
def tickets_set_status(
    number: int,
    status: Annotated[str, typer.Argument(help="open, in_progress, waiting, resolved or closed")],
    acting: ActingAs,
) -> None:
    """Change a ticket's status (what the customer sees when asking for it). A ticket that
    becomes resolved is announced to the customer, in their language (after the quiet hours)."""
    if status not in STATUSES:
        typer.echo(f"touchpoint: unknown status {status!r}", err=True)
        raise typer.Exit(2)
    rep = person(acting)
    ticket = _ticket(number)
    changed = operator_turn(office.ticket_status(ticket, status, rep.id))
    typer.echo(f"ticket #{number} {'is now' if changed else 'was already'} {status}")


@tickets_app.command("note")
def tickets_note(
    number: int,
    text: Annotated[str, typer.Argument(help="The note, kept with the ticket.")],
    acting: ActingAs,
) -> None:
    """Add a note of the team to a ticket (the customer is not told)."""
    if not text.strip():
        typer.echo("touchpoint: the note is empty", err=True)
        raise typer.Exit(2)
    rep = person(acting)
    operator_turn(office.ticket_note(_ticket(number), text, rep.id))
    typer.echo(f"ticket #{number}: note added by {rep.name}")


def _ticket(number: int) -> Ticket:
    ticket = reading(lambda uow: uow.tickets.get(ticket_id_from_number(number)))
    if ticket is None:
        raise not_found(f"ticket #{number}")
    return ticket


# --- hand-offs ------------------------------------------------------------------------------


@handoffs_app.command("list")
def handoffs_list(
    as_json: JsonFlag = False,
    active: Annotated[bool, typer.Option("--active", help="Only hand-offs still open.")] = False,
    limit: Limit = 200,
) -> None:
    """List hand-offs."""
    handoffs = reading(lambda uow: uow.handoffs.search(active_only=active, limit=limit))
    out.rows(handoffs, as_json, out.HANDOFF_COLUMNS)


@handoffs_app.command("close")
def handoffs_close(
    handoff_id: int,
    back_to_bot: Annotated[
        bool, typer.Option("--return", help="Give the conversation back to the bot.")
    ] = False,
    summary: Annotated[str | None, typer.Option(help="A short note kept on the hand-off.")] = None,
) -> None:
    """End a hand-off: the customer is told, and the bot answers again."""
    record = reading(lambda uow: uow.handoffs.get(handoff_id))
    if record is None:
        raise not_found(f"hand-off {handoff_id}")

    change = office.handoff_end(record, returned=back_to_bot, summary=summary)
    if not operator_turn(change):
        typer.echo(f"touchpoint: hand-off {handoff_id} is not open", err=True)
        raise typer.Exit(1)
    typer.echo(f"hand-off {handoff_id} {'returned to the bot' if back_to_bot else 'closed'}")


@handoffs_app.command("assign")
def handoffs_assign(
    handoff_id: int,
    rep: Annotated[int, typer.Option("--rep", help="The rep who takes it over (their id).")],
) -> None:
    """Give an open hand-off to a rep (a manager's decision): the rep gets the card."""
    record = reading(lambda uow: uow.handoffs.get(handoff_id))
    new_rep = reading(lambda uow: uow.reps.get(rep))
    if record is None or new_rep is None:
        raise not_found(f"hand-off {handoff_id}" if record is None else f"rep {rep}")
    if problem := unreachable_here(new_rep):
        typer.echo(f"touchpoint: {problem}", err=True)
        raise typer.Exit(1)

    async def assign(turn: Turn, ctx: Context) -> Result | None:
        return await reassign(
            ctx, record, turn.conversation, new_rep, turn.now, actor=Actor.OPERATOR
        )

    if not system_turn(record.conversation_id, assign):
        typer.echo(f"touchpoint: hand-off {handoff_id} is not open", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"hand-off {handoff_id} assigned to {new_rep.name} "
        "(the customer is told once the card has reached them)"
    )


@handoffs_app.command("reply")
def handoffs_reply(
    handoff_id: int,
    text: str,
    as_name: Annotated[
        str, typer.Option("--as", help="Who answers: a registered rep or manager (name or id).")
    ],
) -> None:
    """Answer the customer of a hand-off from the terminal, on the customer's channel: a rep
    answers a hand-off they hold, a manager any open one (a waiting one becomes theirs)."""
    who = person(as_name)
    record = reading(lambda uow: uow.handoffs.get(handoff_id))
    if record is None:
        raise not_found(f"hand-off {handoff_id}")
    if not text.strip():
        raise fail("nothing to send: the answer is empty", 2)
    if record.status not in ("queued", "offered", "claimed"):
        raise fail(f"hand-off {handoff_id} is not open")
    if not office.may_reply(who, record):
        raise fail(
            f"hand-off {handoff_id} is not {who.name}'s: a rep answers only the hand-offs they hold"
        )

    if not operator_turn(office.handoff_reply(record, who, text)):
        raise fail(f"hand-off {handoff_id} is not open")
    typer.echo(f"hand-off {handoff_id}: {who.name}'s answer goes to the customer")


@handoffs_app.command("show")
def handoffs_show(handoff_id: int, as_json: JsonFlag = False) -> None:
    """Show a hand-off with its conversation's last messages and touchpoints."""

    async def load(uow: UnitOfWork) -> dict[str, Any] | None:
        record = await uow.handoffs.get(handoff_id)
        if record is None:
            return None
        recent = await uow.messages.recent(record.conversation_id, 20)
        timeline = await uow.touchpoints.search(conversation_id=record.conversation_id)
        return {
            **out.plain(record),
            "messages": [{"direction": d, "text": t} for d, t in recent],
            "timeline": [out.plain(t) for t in timeline],
        }

    view = reading(load)
    if view is None:
        raise not_found(f"hand-off {handoff_id}")
    out.record(view, as_json)


# --- touchpoints ----------------------------------------------------------------------------


@touchpoints_app.command("list")
def touchpoints_list(
    as_json: JsonFlag = False,
    contact: Annotated[int | None, typer.Option(help="Only this contact's touchpoints.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. lead_captured.")] = None,
    limit: Limit = 200,
) -> None:
    """List touchpoints, oldest first."""
    rows = reading(lambda uow: uow.touchpoints.search(contact_id=contact, kind=kind, limit=limit))
    out.rows(rows, as_json, out.TOUCHPOINT_COLUMNS)


@dead_letters_app.command("list")
def dead_letters_list(as_json: JsonFlag = False, limit: Limit = 200) -> None:
    """List parked inbound messages, and webhook deliveries given up (channel `webhook`, the
    delivery's id as external_id: `touchpoint webhooks redeliver ID`), with the error."""
    out.rows(
        reading(lambda uow: uow.dead_letters.search(limit=limit)),
        as_json,
        out.DEAD_LETTER_COLUMNS,
    )
