"""The email channel: IMAP in (aioimaplib), SMTP out (aiosmtplib).

`run` hands every new mail of the mailbox to the core, several side by side and each sender's
in UID order (`in_order.py`), while this instance holds the mailbox's lease (when several
share it); the watermark moves past a mail only once it and every mail before it were
accepted, so a crash or a takeover re-delivers (and the core's unique key absorbs) at most the
mails in hand. Each mail is read (parsed, classified, its files decoded) in a worker process
with time and memory limits (`reader.py`), started by `run` and stopped by `close`: a hostile
mail is parked, and the event loop, with Telegram, the relay and the timers on it, never waits.

`send` writes one reply in the customer's thread: our Message-ID (given when the reply was
queued, the same on a retry), In-Reply-To/References, `Re: [#N] subject` (without `Re:` on a
mail that answers none, such as a card to a rep), `Auto-Submitted: auto-replied` (not on a
rep's own answer), exactly one recipient.

What the mailbox already holds when the bot first reads it, or reads it again under a new
UIDVALIDITY, is a catch-up (`catch_up.py`): mail received more than `backfill_days` before and
mail already stored (the same Message-ID and sender) are passed over without being downloaded.
The bot answers what arrives from its installation on, not years of a mailbox's history, and a
rebuilt mailbox does not make it answer its history either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr

from bot.model import (
    Accept,
    Alone,
    Capabilities,
    FileCopy,
    Leader,
    Original,
    OutboundMessage,
    SendReceipt,
)
from channels.email.catch_up import CatchUpRules, NothingStored, StoredMail
from channels.email.compose import compose_reply
from channels.email.ids import new_message_id
from channels.email.imap import ImapConfig, ImapIngest, WatermarkStore
from channels.email.in_order import InSenderOrder
from channels.email.inbound import Ours
from channels.email.mail import FetchedMail
from channels.email.reader import MailReader, ReadingAhead, ReadingConfig
from channels.email.reply_tokens import reply_address
from channels.email.smtp import SmtpConfig, SmtpSender
from channels.email.subjects import EmailThreading, first_subject, reply_subject


@dataclass(frozen=True, slots=True)
class EmailConfig:
    imap: ImapConfig
    smtp: SmtpConfig
    email_from: str  # "Example Sales <sales@example.com>"
    ours: Ours
    message_id_domain: str
    backfill_days: float = 3.0
    reading: ReadingConfig = field(default_factory=ReadingConfig)


class EmailChannel:
    name = "email"
    # A mail is shown to a rep by its files, attached anew (no copying); autoresponders answer
    # mail, so replies are capped; a lead's questions go in one mail.
    capabilities = Capabilities(
        files=True,
        one_message_per_turn=True,
        answered_by_machines=True,
        threading=EmailThreading(),
        states_language=True,
    )

    def __init__(
        self,
        config: EmailConfig,
        watermarks: WatermarkStore,
        stored: StoredMail | None = None,
        reader_lease: Leader | None = None,
    ) -> None:
        """`stored` tells which mails a catch-up finds stored already (the composition root
        gives the database's); without it, a catch-up passes over only mail too old.
        `reader_lease`: held while this instance reads the mailbox, when several may."""
        self._config = config
        self._reader_lease = reader_lease or Alone()
        catch_up = CatchUpRules(config.backfill_days, stored or NothingStored())
        self._ingest = ImapIngest(config.imap, watermarks, catch_up, ahead=self._read_ahead)
        self._smtp = SmtpSender(config.smtp)
        self._reader: MailReader | None = None
        self._reading: ReadingAhead | None = None

    async def run(self, accept: Accept) -> None:
        reader = self._reader = MailReader(self._config.ours, self._config.reading)
        await reader.start()
        reading = self._reading = ReadingAhead(reader)
        in_order = InSenderOrder(reading.read, accept)
        # Whichever instance reads, it starts at the watermark in the database.
        await self._reader_lease.run_while_leader(lambda: self._ingest.run(in_order.hand_over))

    async def send(self, message: OutboundMessage) -> SendReceipt:
        config = self._config
        message_id = message.header_id or new_message_id(config.message_id_domain)
        email = compose_reply(
            text=message.text,
            options=message.options,
            sender=config.email_from,
            recipient=message.address.value,
            subject=(reply_subject if message.in_reply_to else first_subject)(
                message.subject, message.ticket
            ),
            message_id=message_id,
            in_reply_to=message.in_reply_to,
            references=message.references,
            auto_submitted=message.automatic,
            files=message.files,
            loop_token=config.ours.loop_token,
            language=message.language,
            reply_to=(
                reply_address(_address_of(config.email_from), message.reply_token)
                if message.reply_token
                else None
            ),
        )
        envelope_from = _address_of(config.email_from)
        await self._smtp.send(email, envelope_from=envelope_from, recipient=message.address.value)
        return SendReceipt(external_id=message_id)

    async def files_of(self, original: Original) -> list[FileCopy]:
        """The files kept with the stored mail, decoded when it was read: inline parts (logos
        in a signature) and files beyond parse.MAX_FORWARD_BYTES in all are not among them
        (the label still names them). The mail is never parsed again."""
        return list(original.files)

    def _read_ahead(self, fetched: FetchedMail) -> None:
        # the next mail is read in the worker while the current one's turn runs here
        if self._reading is not None:
            self._reading.start(fetched)

    async def close(self) -> None:
        await self._smtp.close()
        await self._ingest.close()
        if self._reading is not None:
            self._reading.cancel()
        if self._reader is not None:
            await self._reader.close()


def _address_of(email_from: str) -> str:
    return parseaddr(email_from)[1]
