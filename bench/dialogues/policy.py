"""A simulated prospect's side of the dialogue: read the bot's last reply, answer what it asks.

The prospect answers from its profile in its style; says its scripted moves (a question of its
own, a correction, a refusal, a cancel) when the bot reaches them, or at the summary when the
bot never did; picks "Get an offer" from a menu (and restates its need if that did not help);
says once that it is not an existing customer when taken for one; confirms the summary. Asked
the same thing again right after answering it, it answers tersely (the bare value, the option's
label; by mail, "Name: ..." lines), as people do when a bot did not get them. After a refusal
or a cancel it insists once if the bot goes on asking, then leaves. It gives up after
`MAX_TURNS` messages.

What it keeps for the figures: messages sent, the fields the bot asked for although this
prospect had already stated them (`already_given`), the lead questions the bot went on asking
after a refusal or a cancel, and replies in the other language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bench.dialogues.phrases import Phrases
from bench.dialogues.profiles import Move, Profile, Utterance, render
from bench.dialogues.questions import Heard, Recognised, Recogniser, Said

MAX_TURNS = 12
LEAD_QUESTIONS = (Said.ASK, Said.FORM, Said.CONFIRM)


def already_given(asked: Iterable[str], stated: Iterable[str]) -> list[str]:
    """The fields asked for that were stated before, in the order asked."""
    known = set(stated)
    return [name for name in asked if name in known]


def asked_fields(reply: Recognised) -> tuple[str, ...]:
    """The lead fields a reply asks for (none for anything but a question or the form)."""
    return reply.asks if reply.said in (Said.ASK, Said.FORM) else ()


@dataclass
class Prospect:
    profile: Profile
    phrases: Phrases
    recogniser: Recogniser
    turns: int = 0
    stated: set[str] = field(default_factory=set)
    repeated: list[str] = field(default_factory=list)
    after_refusal: list[str] = field(default_factory=list)
    wrong_language: int = 0
    ended: str = ""
    _moves: list[Move] = field(default_factory=list)
    _refused: bool = False
    _insisted: bool = False
    _last_answered: str = ""
    _menus: int = 0
    _services: int = 0

    def __post_init__(self) -> None:
        self._moves = list(self.profile.moves)
        self._refused = not self.profile.wants_lead and not self._moves

    def opener(self) -> Utterance:
        return self._said(self._render(self.profile.opener))

    def reply_to(self, heard: Heard) -> Utterance | None:
        """The next message, or None when the prospect stops (the reason is in `ended`)."""
        self._listen(heard)
        last = heard.last
        if self._refused:
            return self._after_refusal(last)
        if last is None:
            return self._stop(
                "the bot said nothing" if not heard.replies else "the bot asked nothing"
            )
        if ending := _ENDINGS.get(last.said):
            return self._stop(ending)
        if last.said is Said.SERVICE and self._services:
            return self._stop("taken for a service matter")
        if self.turns >= MAX_TURNS:
            return self._stop(f"gave up after {MAX_TURNS} messages")
        return self._said(self._answer(last, heard.options))

    # --- reading ------------------------------------------------------------------------

    def _listen(self, heard: Heard) -> None:
        for reply in heard.replies:
            self.repeated += already_given(asked_fields(reply), self.stated)
            if reply.lang not in ("?", self.profile.lang):
                self.wrong_language += 1
        if self._refused:
            self.after_refusal += [r.key for r in heard.replies if r.said in LEAD_QUESTIONS]

    def _after_refusal(self, last: Recognised | None) -> Utterance | None:
        if last is None or last.said not in LEAD_QUESTIONS or self._insisted:
            return self._stop("no lead wanted")
        self._insisted = True
        return self._said(self._phrase("insist"))

    # --- answering ----------------------------------------------------------------------

    def _answer(self, last: Recognised, options: Sequence[str]) -> Utterance:
        point = self._point(last)
        if (move := self._move_at(point)) and (move.stop or last.said is not Said.FORM):
            self._refused = move.stop
            return self._render(move.text)
        again = point == self._last_answered
        self._last_answered = point
        if last.said is Said.FORM:
            return _before(move, self._form(last.asks, labelled=again), self._render)
        if last.said is Said.ASK:
            return self._fields(last.asks, options, terse=again)
        if last.said is Said.CONFIRM:
            return self._confirm(options, terse=again)
        if last.said is Said.SERVICE:
            self._services += 1
            return self._phrase("not_service")
        return self._from_menu(options)

    def _point(self, last: Recognised) -> str:
        if last.said is Said.ASK:
            return last.asks[0]
        return {Said.FORM: "form", Said.CONFIRM: "confirm"}.get(last.said, last.key)

    def _move_at(self, point: str) -> Move | None:
        """The move due at `point`; at the summary, any move the bot gave no chance to before
        (a person corrects or refuses there at the latest)."""
        due = next((m for m in self._moves if m.at in (point, "next") or point == "confirm"), None)
        if due:
            self._moves.remove(due)
        return due

    def _fields(self, names: Sequence[str], options: Sequence[str], *, terse: bool) -> Utterance:
        """The answer to a question for one field, or for several (budget and date) at once:
        each field's answer in turn, one "Skip" when the prospect would skip them all."""
        answers = [self._field(name, options, terse=terse) for name in names]
        skip = self.recogniser.label_of(options, "button.skip")
        if len(answers) > 1 and skip and all(a.text == skip[1] for a in answers):
            return Utterance(skip[1], frozenset(names))
        text = " ".join(answer.text for answer in answers)
        return Utterance(text, frozenset().union(*(answer.states for answer in answers)))

    def _field(self, name: str, options: Sequence[str], *, terse: bool) -> Utterance:
        style = "terse" if terse else self.profile.style
        value = self.profile.values.get(name, "")
        if name == "contact" or value:
            key = self.profile.contact if name == "contact" else name
            template = self.profile.answers.get(name) if not terse else None
            return self._render(template or self._template(style, key))
        skip = self.recogniser.label_of(options, "button.skip")
        if style == "terse" and skip:
            return Utterance(skip[1], frozenset({name}))
        template = self.profile.answers.get(name) or self._template(style, f"no_{name}")
        return Utterance(self._render(template).text, frozenset({name}))

    def _confirm(self, options: Sequence[str], *, terse: bool) -> Utterance:
        option = self.recogniser.label_of(options, "button.confirm")
        if terse and option:
            return Utterance(option[1])
        return self._phrase("confirm")

    def _from_menu(self, options: Sequence[str]) -> Utterance:
        self._menus += 1
        offer = self.recogniser.label_of(options, "button.lead")
        if offer and self._menus % 2 == 1:
            number, label = offer
            return Utterance(str(number) if self.profile.style == "terse" else label)
        return self._phrase("restate")

    def _form(self, asks: Sequence[str], *, labelled: bool) -> Utterance:
        """The answer to the mail form: each field asked, in the profile's mail style."""
        mail = self.profile.mail
        style = "labelled" if labelled or mail is None else mail.answers
        parts = [(name, self._mail_value(name)) for name in asks if name != "?"]
        in_signature = {"name", "company"} if style == "signature" else set()
        lines = [self._form_line(style, index, name, value) for index, (name, value) in
                 enumerate(parts, 1) if name not in in_signature]  # fmt: skip
        joiner = " " if style in ("prose", "signature") else "\n"
        stated = frozenset(name for name, _ in parts)
        # Labelled lines go above the quote as a whole, not between its questions.
        return Utterance(joiner.join(lines), stated, () if labelled else tuple(parts))

    def _form_line(self, style: str, number: int, name: str, value: str) -> str:
        if style == "numbered":
            return f"{number}. {value}"
        if style == "labelled":
            return f"{self._template('mail', f'label.{name}')}: {value}"
        given = bool(self.profile.values.get(name))
        return self._render(self._template("mail", f"prose.{'' if given else 'no_'}{name}")).text

    def _mail_value(self, name: str) -> str:
        if value := self.profile.values.get(name):
            return value
        return self.profile.answers.get(name) or self._template("mail", f"value.no_{name}")

    # --- saying ---------------------------------------------------------------------------

    def _with_signature(self, utterance: Utterance) -> Utterance:
        mail = self.profile.mail
        if mail is None or not mail.signature:
            return utterance
        signed = self._render("\n".join(mail.signature))
        states = utterance.states | signed.states
        return Utterance(utterance.text, states, utterance.parts, signed.text)

    def _said(self, utterance: Utterance) -> Utterance:
        utterance = self._with_signature(utterance)
        self.turns += 1
        self.stated |= utterance.states
        return utterance

    def _stop(self, why: str) -> Utterance | None:
        self.ended = why
        return None

    def _phrase(self, key: str) -> Utterance:
        return self._render(self._template(self.profile.style, key))

    def _template(self, style: str, key: str) -> str:
        return self.phrases.get(self.profile.lang, style, key)

    def _render(self, template: str) -> Utterance:
        return render(template, self.profile.values)


def _before(move: Move | None, answer: Utterance, render: Callable[[str], Utterance]) -> Utterance:
    """A mail answer with a remark of the prospect's own above it (a question, a correction)."""
    if move is None:
        return answer
    remark = render(move.text)
    return Utterance(f"{remark.text}\n\n{answer.text}", remark.states | answer.states, answer.parts)


_ENDINGS = {
    Said.SAVED: "lead saved",
    Said.CANCELLED: "cancelled by the bot",
    Said.HANDOFF: "handed to a person",
}
