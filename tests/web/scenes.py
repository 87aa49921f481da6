"""What happens before a console page is opened, through real conversations with the bot:
customers asking for quotes (leads), a person asked for (hand-offs), a broken order (tickets)."""

from __future__ import annotations

from tests.harness import BotHarness, Customer


async def quote(
    customer: Customer, *, name: str, email: str, company: str,
    need: str = "Please send me a quote for 500 kg of coffee beans",
) -> None:  # fmt: skip
    """The customer asks for a quote and gives their name, email and company: a lead."""
    await customer.say(need)
    for answer in (name, email, company):
        await customer.say(answer)
    await customer.press("lead:skip")
    await customer.press("lead:confirm")


async def three_leads(bot: BotHarness) -> None:
    """Zoe (terminal), Max (Telegram) a day later, Eve (terminal) two days later; nobody is on
    duty, so all three wait."""
    await quote(bot.customer("zoe", name="Zoe"), name="Zoe Adams", email="zoe@beanery.example",
                company="Beanery")  # fmt: skip
    bot.clock.advance(days=1)
    await quote(
        bot.customer("5005", channel="telegram", name="Max"), name="Max Weber",
        email="max@roastery.example", company="Roastery",
        need="Please send me a quote for 20 espresso machines",
    )  # fmt: skip
    bot.clock.advance(days=1)
    await quote(bot.customer("eve", name="Eve"), name="Eve Stone", email="eve@cafe.example",
                company="Cafe Eve")  # fmt: skip


async def on_duty(bot: BotHarness, rep_id: int) -> None:
    """The rep is at work: hand-offs and leads are offered to them."""
    async with bot.database.transaction() as uow:
        await uow.reps.update(rep_id, on_duty=True)
        await uow.commit()
