"""Service by mail, as transcripts: a complaint gets its ticket's number in the first reply,
and "any news?" in its thread, quoted as Gmail and Outlook quote, lands on that ticket.

Mails go in as raw RFC 822 bytes through the email channel's own reading (`to_inbound`), so
the quoting of the bot's reply is taken off as it is in production."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from bot.model import InboundKind
from channels.email.inbound import Ours, to_inbound
from channels.email.mail import FetchedMail
from tests.conversations.test_rep_handoff import OLGA_TELEGRAM, add_rep
from tests.harness import BotHarness

BOT = "sales@touchpoint.example"
OURS = Ours(
    addresses=frozenset({BOT}),
    loop_token="service-mail-loop-token",
    domains=frozenset({"touchpoint.example"}),
)


class Thread:
    """One customer's mail thread with the bot: each mail answers the bot's last one, quoting
    it as the customer's client does."""

    def __init__(self, bot: BotHarness, address: str, name: str, subject: str) -> None:
        self.bot, self.address, self.name, self.subject = bot, address, name, subject
        self.sent = 0

    async def write(self, body: str, quote: str = "") -> list[str]:
        self.sent += 1
        raw = self._raw(body + self._quoted(quote))
        message = to_inbound(FetchedMail(1, self.sent, raw, self.bot.clock.now), OURS)
        assert message.kind is InboundKind.MESSAGE, message.reason
        email = self.bot.channels["email"]
        before = len(email.texts_to(self.address))
        await self.bot.dispatcher.accept(message)
        await self.bot.deliver()
        self.bot.clock.advance(hours=20)
        return email.texts_to(self.address)[before:]

    def _raw(self, body: str) -> bytes:
        mail = EmailMessage(policy=policy.default)
        mail["From"] = formataddr((self.name, self.address))
        mail["To"] = BOT
        mail["Subject"] = self.subject if self.sent == 1 else f"Re: {self.subject}"
        mail["Date"] = format_datetime(self.bot.clock.now)
        mail["Message-ID"] = f"<{self.sent}.{self.address}>"
        if self.sent > 1 and (ours := self._ours()):
            mail["In-Reply-To"] = ours
            mail["References"] = ours
        mail.set_content(body)
        return mail.as_bytes()

    def _ours(self) -> str | None:
        sent = [m for m in self.bot.channels["email"].sent if m.address.value == self.address]
        return sent[-1].header_id if sent else None

    def _quoted(self, quote: str) -> str:
        sent = self.bot.channels["email"].texts_to(self.address)
        if not quote or not sent:
            return ""
        if quote == "gmail":
            lines = "\n".join(f"> {line}".rstrip() for line in sent[-1].splitlines())
            return f"\n\nOn Mon, Mar 2, 2026 at 9:00 AM Touchpoint Sales <{BOT}> wrote:\n{lines}\n"
        head = (
            f"-----Original Message-----\nFrom: Touchpoint Sales <{BOT}>\n"
            f"Sent: Monday, March 2, 2026 9:00 AM\nTo: {self.name} <{self.address}>\n"
            f"Subject: Re: {self.subject}"
        )
        return f"\n\n{head}\n\n{sent[-1]}\n"


PRINTER = (
    "To whom it may concern,\n\nI am writing to complain. The printer your engineer installed "
    "last week still jams every few pages, and he never came back as he promised. What can you "
    "do?\n\nMark Ellis"
)
CONDITIONER = (
    "Пишу с жалобой. Кондиционер, который ваш мастер установил в понедельник, течёт уже третий "
    "день, а мастер обещал приехать и не приехал. Что вы можете сделать?\n\nСергей Волков"
)


async def test_a_complaint_ending_in_what_can_you_do_gets_a_ticket_and_any_news_lands_on_it(
    bot: BotHarness,
) -> None:
    mark = Thread(bot, "mark@ellisprint.example", "Mark Ellis", "Complaint")

    [opened] = await mark.write(PRINTER)
    assert opened.startswith("Your request #1001 is open.")

    [news] = await mark.write("Any news on this? It's been three days.", quote="outlook")
    assert news.startswith("Added to your request #1001.\n\nRequest #1001 (")
    assert ": open, last updated" in news
    [ticket] = await bot.tickets()
    notes = [text for _author, text, _at in await _notes(bot, ticket.id)]
    assert notes[-1] == "Any news on this? It's been three days."
    assert await bot.leads() == []


async def test_a_russian_complaint_gets_a_ticket_and_any_news_lands_on_it(bot: BotHarness) -> None:
    sergey = Thread(bot, "volkov@kafe.example", "Сергей Волков", "Жалоба")

    [opened] = await sergey.write(CONDITIONER)
    assert opened.startswith("Заявка #1001 открыта.")

    [news] = await sergey.write("Есть новости?", quote="gmail")
    assert news.startswith("Добавил это к заявке #1001.\n\nЗаявка #1001 (")
    assert len(await bot.tickets()) == 1
    assert await bot.kinds() == [
        "message_in", "ticket_opened", "followup_scheduled", "message_out", "delivered",
        "message_in", "ticket_updated", "message_out", "delivered",
    ]  # fmt: skip


async def test_an_order_written_with_a_number_sign_is_not_taken_for_a_ticket(
    bot: BotHarness,
) -> None:
    alexey = Thread(bot, "petrov@stroymarket.example", "Алексей Петров", "Где заказ?")
    late = (
        "Добрый день.\n\nЗаказ № 30981 оплатили две недели назад, обещали привезти за три дня, "
        "до сих пор ничего нет.\n\nАлексей Петров"
    )

    [opened] = await alexey.write(late)
    assert opened.startswith("Заявка #1001 открыта.")  # not "нет #30981 среди ваших заявок"

    [news] = await alexey.write("Добрый день, есть новости по заказу?", quote="outlook")
    assert "#1001" in news and "30981" not in news
    assert len(await bot.tickets()) == 1


async def test_an_english_order_with_a_hash_is_not_taken_for_a_ticket(bot: BotHarness) -> None:
    tom = Thread(bot, "tom@hughes.example", "Tom Hughes", "Late delivery")

    [opened] = await tom.write(
        "Hello,\n\nWhere is my order #55310? It was due last week and nothing has arrived.\n\nTom"
    )
    assert opened.startswith("Your request #1001 is open.")

    [news] = await tom.write("Hi again, any update on this?", quote="gmail")
    assert "#1001" in news
    assert len(await bot.tickets()) == 1


async def test_an_angry_complaint_by_mail_gets_its_ticket_when_nobody_can_take_it(
    bot: BotHarness,
) -> None:
    paul = Thread(bot, "paul@harbour.example", "Paul Reid", "Broken chairs")

    [opened] = await paul.write(
        "This is OUTRAGEOUS! Your useless company delivered broken chairs, order 7702. I want "
        "my money back NOW!"
    )
    assert opened.startswith("Your request #1001 is open.")  # not an offer to pass it on

    [news] = await paul.write("Any news on this?", quote="gmail")
    assert news.startswith("Added to your request #1001.")
    assert len(await bot.tickets()) == 1


async def test_an_angry_russian_complaint_by_mail_gets_its_ticket_and_a_person(
    bot: BotHarness,
) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ivan = Thread(bot, "ivan@sklad.example", "Иван Котов", "Разбитый заказ")

    [reply] = await ivan.write(
        "Это просто безобразие!!! Заказ 7702 привезли разбитым, верните деньги немедленно!"
    )

    assert reply.startswith("Заявка #1001 открыта.")
    assert reply.endswith("Сейчас же передаю ваш разговор сотруднику — он ответит прямо здесь.")
    kinds = await bot.kinds()
    assert kinds.index("ticket_opened") < kinds.index("handoff_requested")
    assert len(await bot.tickets()) == 1


async def test_an_angry_outburst_in_chat_still_goes_to_a_person_alone(bot: BotHarness) -> None:
    await add_rep(bot, "Olga", telegram=OLGA_TELEGRAM)
    ann = bot.customer("1001", channel="telegram", name="Ann")
    [reply] = await ann.say("My order 7702 arrived broken, this is OUTRAGEOUS, you scammers!!!")
    assert reply.startswith("I'm sorry about this. I'm passing your conversation to a person")
    assert await bot.tickets() == []


async def _notes(bot: BotHarness, ticket_id: int) -> list[tuple[str, str, object]]:
    async with bot.database.transaction() as uow:
        return list(await uow.tickets.notes(ticket_id))
