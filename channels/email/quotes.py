"""What the customer wrote in a reply: quoted earlier mail, attributions and forwards removed.

`strip_reply(text)` returns `(reply, signature)`. Every line is classified (empty, `>` quote,
attribution such as "On ... wrote:" or "вт, 5 янв. 2016 г. в 23:39, Name <e>:", separator such as
"-----Исходное сообщение-----", Outlook header line such as "От:" or "From:", rule, text); then:

- the first marker with customer text above it ends the reply: an Outlook header block or a
  separator always (everything below is the old mail); an attribution too, unless the customer
  answered below the quote it introduces (an inline reply), where only the attribution goes;
- a marker with nothing above it (a forward without comment, or an attribution that opens an
  inline reply) is dropped together with the quote right under it, and reading goes on below;
- a `>` quote left at the very end goes; quotes between the customer's paragraphs stay;
- what stands under a quote is an inline answer unless it is the sender's own signature (a
  "--" delimiter, a closing, a "-Name", a mobile line or a name over one): then the quote goes
  and the signature stays.

A mailing list's footer at the very end ("You received this message because…", Mailman's rule
and list address, "Чтобы отписаться…"; channels/email/footers.py) goes before any of this.

The signature ("-- ", "С уважением,", "Best regards", "Sent from my iPhone", "-Anna"...) is
detected and returned separately but kept in the reply: it holds phones and company names. The
reply is never empty when the text has content: the full text is returned instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from channels.email.footers import footer_start

MAX_CHARS = 100_000  # longer bodies are cut first: a reply is never that long
_SCAN = 400  # characters of a line the patterns look at, so no regex sees a huge line
_WINDOW = 4  # an attribution wrapped by the client spans at most this many lines
_SIGNATURE_LINES = 40  # a signature starts within this many lines of the end
_CLOSING_LINES = 8  # lines a closing ("Best regards,") may have under it: name, title, phone

_I = re.IGNORECASE
_COLON = r"\s*(?:[:：]|-{2,})[\s*_-]*$"  # "wrote:" or Zoho's "wrote ----"
_EMAIL = r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"
_WROTE = (
    r"(?:wrote|writes|schrieb|a\s+écrit|escribió|escreveu|ha\s+scritto|napisał\(a\)|napisała|"
    r"napisał|napsal\(a\)|napsala|napsal|написал\(а\)|написала|написали|написал|написав|пишет|"
    r"пише|skrev|schreef|kirjoitti|yazdı|írta)"
)
_WROTE_STEMS = ("wrote", "writes", "schrieb", "écrit", "escrib", "escrev", "scritto", "napisa",
                "napsal", "pisze", "написа", "пиш", "skrev", "schreef", "kirjoitti", "yazdı",
                "írta")  # fmt: skip
_AT = ("@",)
_WROTE_EN = ("wrote", "writes", "said")
_TIME_OR_YEAR = r"(?=.*(?:\d{1,2}:\d{2}|\d{4}))"


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A regex and words one of which must be in the line: a cheap test that keeps the regexes
    off the many lines that cannot match (and off any line crafted to make them backtrack)."""

    regex: re.Pattern[str]
    needles: tuple[str, ...]

    def match(self, lowered: str, text: str) -> bool:
        return any(n in lowered for n in self.needles) and bool(self.regex.match(text))


def _pattern(regex: str, needles: tuple[str, ...], flags: int = _I) -> _Pattern:
    return _Pattern(re.compile(regex, flags), needles)


_ATTRIBUTIONS = (
    # On Mon, Feb 1, 2016 at 4:58 AM, "Some One" <foo@bar.com> wrote:
    _pattern(r"^[\s*_-]*(?:On|At)\s.{3,300}?\b(?:wrote|writes|said)" + _COLON, _WROTE_EN),
    # Some One <foo@bar.com> wrote: / 30 серп. 2016 р. 20:45 "Arpit" <a@b.c> пише:
    _pattern(r"^[^<>@]{0,120}?[^\W\d_][^<>@]{0,120}?[\s\"'(\[<]+" + _EMAIL
             + r"[>)\]\"']*.{0,80}?\b" + _WROTE + _COLON, _AT),
    # codinghorror via Discourse Meta wrote:
    _pattern(r"^.{1,200}?\svia\s.{1,200}?\s(?:wrote|schrieb)\s*[:：]?\s*$", (" via ",)),
    # Max <max@x.de> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:
    _pattern(
        r"^.{1,200}?\b(?:wrote\s+on|schrieb\s+am)\s.{0,120}?\d.{0,120}?[:：]\s*$",
        ("wrote", "schrieb"),
    ),
    # Gmail RU, Yandex, Mail.ru: вт, 5 янв. 2016 г. в 23:39, Name <e@x.ru>:
    _pattern(r"^" + _TIME_OR_YEAR + r".{3,300}?<\s*" + _EMAIL + r"\s*>\s*[:：]\s*$", _AT, 0),
    # 2013/7/20 sam via Discourse Meta <info@discourse.org>
    _pattern(r"^\s*\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b.{1,200}?<\s*" + _EMAIL + r"\s*>\s*$", _AT, 0),
    # понедельник, 6 октября 2014 г. пользователь lidel написал: / 12.03.2024, Иван пишет:
    _pattern(r"^(?=.*(?:\d|пользователь|користувач)).{3,300}?\b" + _WROTE + _COLON, _WROTE_STEMS),
    # Понедельник, 12 марта 2024 от Иван Петров <ivan@mail.ru>:
    _pattern(r"^.{0,200}?\bот\s.{1,150}?<\s*" + _EMAIL + r"\s*>\s*[:：]\s*$", _AT),
    # Le 4 janv. 2016 19:03, "Neil" <n@x.org> a écrit : / Am ... schrieb ...: / El ... escribió:
    _pattern(r"^[\s*_-]*Le\s.{3,300}?\ba\s+écrit" + _COLON, ("écrit",)),
    _pattern(
        r"^[\s*_-]*Am\s.{3,300}?\b(?:schrieb|geschrieben)\b.{0,200}?" + _COLON,
        ("schrieb", "geschrieben"),
    ),
    _pattern(
        r"^[\s*_-]*Op\s.{3,300}?\b(?:schreef|het\s+volgende\s+geschreven)\b.{0,200}?" + _COLON,
        ("schreef", "geschreven"),
    ),
    _pattern(r"^[\s*_-]*El\s.{3,300}?\bescribió" + _COLON, ("escribió",)),
    _pattern(r"^[\s*_-]*Em\s.{3,300}?\bescreveu" + _COLON, ("escreveu",)),
    _pattern(r"^[\s*_-]*Il\s.{3,300}?\bha\s+scritto" + _COLON, ("scritto",)),
    _pattern(r"^[\s*_-]*(?:Dnia|W\s+dniu|Dňa)\s.{3,300}?\b(?:napisał\(a\)|napisała|napisał|pisze)"
             + _COLON, ("napisa", "pisze")),
    _pattern(r"^(?=.*\d).{3,300}?\bskrev\b.{0,200}?[:：]\s*$", ("skrev",)),
    _pattern(r"^[\s*_-]*在.{3,300}?写道\s*[:：]?\s*$", ("写道",), 0),
    # 2016-03-03 17:21 GMT+01:00 Some One
    _pattern(r"^\s*20\d\d-\d\d-\d\d \d\d:\d\d GMT[+-]\d\d:\d\d [\w\s]+$", ("gmt",), 0),
)  # fmt: skip
# A line an attribution wrapped over several lines can start with: a date, a weekday, "On"...
_ATTRIBUTION_START = re.compile(
    r"^[\s*_-]*(?:\d|(?:On|At|Le|Am|El|Em|Il|Op|Dnia|W\s+dniu|Den)\s|在"
    r"|(?:пн|вт|ср|чт|пт|сб|вс|понедельник|вторник|сред|четверг|пятниц|суббот|воскресень"
    r"|mon|tue|wed|thu|fri|sat|sun)\w*[,.\s])|.*<\s*$",
    _I,
)
_SEPARATORS = (
    re.compile(
        r"^[\s*_]*-{2,}\s*(?:original\s+message|forwarded\s+message|forwarded\s+e-?mail|"
        r"reply\s+message|message\s+d'origine|message\s+transféré|ursprüngliche\s+nachricht|"
        r"weitergeleitete\s+nachricht|originalnachricht|mensaje\s+original|mensaje\s+reenviado|"
        r"messaggio\s+originale|messaggio\s+inoltrato|oorspronkelijk\s+bericht|"
        r"doorgestuurd\s+bericht|oryginalna\s+wiadomość|wiadomość\s+oryginalna|"
        r"przekazana\s+wiadomość|oprindelig\s+meddelelse|videresendt\s+meddelelse|"
        r"opprinnelig\s+melding|ursprungligt\s+meddelande|vidarebefordrat\s+meddelande|"
        r"mensagem\s+original|mensagem\s+encaminhada|исходное\s+сообщение|"
        r"пересылаемое\s+сообщение|пересланное\s+сообщение|перенаправленное\s+сообщение|"
        r"переадресованное\s+сообщение|оригинальное\s+сообщение|вихідне\s+повідомлення|"
        r"переслане\s+повідомлення|alkuperäinen\s+viesti|původní\s+zpráva|eredeti\s+üzenet|"
        r"orijinal\s+mesaj|原始邮件|转发邮件)\s*-{2,}[\s*_]*$",
        _I,
    ),
    re.compile(
        r"^[\s*]*(?:begin\s+forwarded\s+message|начало\s+переадресованного\s+сообщения|"
        r"начало\s+пересылаемого\s+сообщения|début\s+du\s+message\s+(?:réexpédié|transféré)|"
        r"anfang\s+der\s+weitergeleiteten\s+nachricht|inicio\s+del\s+mensaje\s+reenviado|"
        r"inizio\s+messaggio\s+inoltrato|begin\s+doorgestuurd\s+bericht)\s*[:：]\s*$",
        _I,
    ),
)
_HEADER = re.compile(
    r"^[\s*_]*(from|sent|to|cc|bcc|subject|date|reply-to|от|отправлено|отправитель|кому|копия|"
    r"тема|дата|від|відправлено|надіслано|von|gesendet|an|betreff|datum|de|envoyé|à|objet|"
    r"para|asunto|enviado|enviada\s+em|fecha|assunto|da|inviato|a|oggetto|data|risposta|van|"
    r"verzonden|aan|onderwerp|od|wysłano|do|temat|fra|sendt|til|emne|från|skickat|till|ämne|"
    r"odesláno|komu|předmět|lähettäjä|lähetetty|vastaanottaja|aihe|feladó|elküldve|címzett|"
    r"tárgy|kimden|gönderildi|kime|konu|发件人|发送时间|收件人|主题|抄送|日期|差出人|送信日時|"
    r"宛先|件名)[\s*_]*[:：]",
    _I,
)
_SENDER_HEADERS = frozenset(
    {
        "from",
        "от",
        "отправитель",
        "від",
        "von",
        "de",
        "da",
        "van",
        "od",
        "fra",
        "från",
        "lähettäjä",
        "feladó",
        "kimden",
        "发件人",
        "差出人",
    }
)
_RULE = re.compile(r"^\s*(?:_{5,}|-{5,}|—{3,}|={5,})\s*$")
_DASH_SIGNATURE = re.compile(r"^--\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"^[\s(<\[]*(?:sent\s+(?:from|via|with|by|using)\s|get\s+outlook\s+for\s|"
    r"from\s+my\s+(?:iphone|ipad|android|mobile|samsung|blackberry|phone|galaxy)|"
    r"\w+\s+from\s+mobile|envoyé\s+(?:de|depuis|à\s+partir\s+de)\s|obtenir\s+outlook\s+pour\s|"
    r"получить\s+outlook\s+для\s|von\s+meinem\s.{1,40}gesendet|"
    r"diese\s+nachricht\s+wurde\s+von\s.{1,80}gesendet|enviado\s+(?:desde|do|de)\s+(?:mi|meu|o)|"
    r"inviato\s+da\s|verzonden\s+met\s|verstuurd\s+vanaf\s|skickat\s+från\s|sendt\s+fra\s+min|"
    r"wysłane\s+z\s|отправлено\s+(?:с|со|из)\s|надіслано\s+з\s|從我的|从我的|发自我的|"
    r"iphoneから送信)",
    _I,
)
_CLOSING = re.compile(
    r"^(?:с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+(?:доброго|наилучшего|хорошего)|"
    r"с\s+благодарностью|з\s+повагою|с\s+повагою|best(?:\s+regards|\s+wishes)?|"
    r"(?:kind|warm|warmest)\s+regards|regards|cheers|sincerely|yours\s+(?:sincerely|truly|"
    r"faithfully)|cordialement|bien\s+à\s+vous|mit\s+freundlichen\s+grüßen|viele\s+grüße|"
    r"beste\s+grüße|liebe\s+grüße|mfg|saludos(?:\s+cordiales)?|atentamente|pozdrawiam|"
    r"z\s+poważaniem|med\s+vänlig\s+hälsning|met\s+vriendelijke\s+groet|cordiali\s+saluti|"
    r"distinti\s+saluti)[\s,.!]*$",
    _I,
)
# Thanks are often the message itself ("Спасибо!"): a signature only with a name under them.
_THANKS = re.compile(
    r"^(?:спасибо|заранее\s+спасибо|благодарю|дякую|thanks(?:\s+again|\s+in\s+advance)?|"
    r"thank\s+you|many\s+thanks|thx)[\s,.!]*$",
    _I,
)
# A short signature ("-Anna", "— Олег Зуев", "~Danielle"); a name alone over a mobile line.
_WORD = r"[^\W\d_][\w.'’-]*"  # words split by spaces only, so the patterns cannot backtrack
_DASH_NAME = re.compile(rf"^\s*[-–—~]\s?{_WORD}(?:\s+{_WORD}){{0,2}}\s*$")
_NAME = re.compile(rf"^\s*{_WORD}(?:\s+{_WORD}){{0,2}}\s*$")
_DECORATION = re.compile(r"^\s*(?:[-_=*#~—–ᐧ•]+|\+{2,})\s*$")
_INVISIBLE = str.maketrans("", "", "\ufeff\u200b\u200c\u200d\u2060\u00ad")


class Kind(StrEnum):
    EMPTY = "empty"
    QUOTE = "quote"
    ATTRIBUTION = "attribution"
    SEPARATOR = "separator"
    HEADER = "header"
    RULE = "rule"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class _Marker:
    """Where an earlier message starts: lines [start, end) are the marker itself."""

    start: int
    end: int
    attribution: bool


class _Body:
    """The lines of a body with the kind of each, classified once."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        self.kinds: list[Kind] = []
        self.headers: dict[int, str] = {}
        self._classify()

    def __len__(self) -> int:
        return len(self.lines)

    def next_filled(self, index: int) -> int | None:
        for i in range(index, len(self.lines)):
            if self.kinds[i] is not Kind.EMPTY:
                return i
        return None

    def run_end(self, index: int, kinds: frozenset[Kind]) -> int:
        while index < len(self.lines) and self.kinds[index] in kinds:
            index += 1
        return index

    def has(self, kind: Kind, indices: range | Sequence[int]) -> bool:
        return any(self.kinds[i] is kind for i in indices)

    def _classify(self) -> None:
        i = 0
        while i < len(self.lines):
            end = self._attribution_end(i)
            if end:
                self.kinds.extend([Kind.ATTRIBUTION] * (end - i))
                i = end
                continue
            self.kinds.append(self._kind(i))
            i += 1

    def _kind(self, i: int) -> Kind:
        line = self.lines[i][:_SCAN]
        if not line.translate(_INVISIBLE).strip():
            return Kind.EMPTY
        if line.lstrip().startswith(">") or self._continues_quote(i):
            return Kind.QUOTE
        if any(pattern.match(line) for pattern in _SEPARATORS):
            return Kind.SEPARATOR
        header = _HEADER.match(line)
        if header:
            self.headers[i] = header.group(1).lower()
            return Kind.HEADER
        return Kind.RULE if _RULE.match(line) else Kind.TEXT

    def _continues_quote(self, i: int) -> bool:
        """The rest of a quoted line cut by a quoted-printable soft break ("w=" / "rote:")."""
        if i == 0 or self.kinds[i - 1] is not Kind.QUOTE:
            return False
        return self.lines[i - 1].rstrip().endswith("=")

    def _attribution_end(self, i: int) -> int:
        """End of an attribution starting at line i (0 if none), joining wrapped lines."""
        first = self.lines[i][:_SCAN]
        if not first.strip() or first.lstrip().startswith(">"):
            return 0
        longest = _WINDOW if _ATTRIBUTION_START.match(first) else 1
        joined = first.strip()
        for end in range(i + 1, min(i + longest, len(self.lines)) + 1):
            if _is_attribution(joined):
                return end
            if end == len(self.lines) or not self.lines[end].strip():
                return 0
            joined = _join(joined, self.lines[end][:_SCAN].strip())
        return 0


def strip_reply(text: str) -> tuple[str, str]:
    """(reply, signature) of a plain-text body; the signature is also the end of the reply."""
    lines = _without_footer(_normalise(text[:MAX_CHARS]))
    body = _Body(lines)
    kept = _reply_lines(body)
    reply_lines = _render(body, kept)
    if not _has_content(reply_lines):
        reply_lines = [line.rstrip() for line in lines]
    reply_lines = _without_trailing_rules(_trim_blank(reply_lines))
    start = signature_start(reply_lines)
    signature = "\n".join(reply_lines[start:]).strip() if start is not None else ""
    return "\n".join(reply_lines), signature


def signature_start(lines: Sequence[str]) -> int | None:
    """Index of the line a signature starts on, if there is one under some content.

    A "-- " line wins (it is the standard delimiter); otherwise the first closing or mobile
    line ("Best regards,", "Отправлено с iPhone") near the end.
    """
    low = max(0, len(lines) - _SIGNATURE_LINES)
    dash = [i for i in range(low, len(lines)) if _DASH_SIGNATURE.match(lines[i])]
    found = dash[-1:] or [
        i
        for i in (_first_closing(lines, low), _first_mobile(lines, low), _dash_name(lines, low))
        if i is not None
    ]
    starts = [i for i in found if _has_content(lines[:i])]
    return _include_decoration(lines, min(starts)) if starts else None


def _without_footer(lines: list[str]) -> list[str]:
    """The lines above a mailing list's footer (channels/email/footers.py)."""
    start = footer_start(lines)
    return lines if start is None else lines[:start]


def _reply_lines(body: _Body) -> list[int]:
    """Indices of the lines that make the reply."""
    kept: list[int] = []
    position = 0
    wrote = False  # has the customer written a line of text above the current position?
    while True:
        marker = _next_marker(body, position)
        if marker is None:
            kept.extend(range(position, len(body)))
            break
        kept.extend(range(position, marker.start))
        wrote = wrote or body.has(Kind.TEXT, range(position, marker.start))
        if not wrote:
            position = _after_leading(body, marker)
        elif not marker.attribution:
            break
        else:
            cut, position = _answer_below(body, marker)
            if cut is not None:
                kept.extend(cut)
                break
    return _without_trailing_quote(body, kept)


def _next_marker(body: _Body, position: int) -> _Marker | None:
    for i in range(position, len(body)):
        kind = body.kinds[i]
        if kind is Kind.ATTRIBUTION:
            return _Marker(i, body.run_end(i, frozenset({Kind.ATTRIBUTION})), attribution=True)
        if kind in (Kind.SEPARATOR, Kind.HEADER, Kind.RULE):
            end = _old_message_end(body, i)
            if end:
                return _Marker(i, end, attribution=False)
    return None


def _old_message_end(body: _Body, i: int) -> int:
    """End of the separator, rule or header block at line i (0 if it starts no old message)."""
    kind = body.kinds[i]
    if kind is Kind.HEADER:
        return _header_block_end(body, i, needed=2)
    following = body.next_filled(i + 1)
    if following is None:
        return i + 1 if kind is Kind.SEPARATOR else 0
    headers = _header_block_end(body, following, needed=1)
    if kind is Kind.SEPARATOR:
        return headers or i + 1
    sender_first = body.headers.get(following) in _SENDER_HEADERS
    return headers if sender_first else 0  # a rule alone is often just decoration


def _header_block_end(body: _Body, i: int, needed: int) -> int:
    """End of the header block at line i: Outlook's From/Sent/To/Subject, wrapped values
    allowed; 0 unless it has `needed` distinct headers, one of them the sender (or three)."""
    if body.kinds[i] is not Kind.HEADER:
        return 0
    names: list[str] = []
    end = i
    while end < len(body):
        if body.kinds[end] is Kind.HEADER:
            names.append(body.headers[end])
            end += 1
        elif body.kinds[end] is Kind.TEXT and _header_follows(body, end):
            end += 1  # a long value wrapped onto the next line
        else:
            break
    distinct = set(names)
    enough = len(distinct) >= needed and (bool(distinct & _SENDER_HEADERS) or len(distinct) >= 3)
    if len(distinct) == 2 and not _looks_like_mail_headers(body.lines[i:end]):
        enough = False  # "From: Moscow / To: Kazan" in a customer's own text
    return _wrapped_address_end(body, end) if enough else 0


def _looks_like_mail_headers(lines: Sequence[str]) -> bool:
    return any("@" in line or any(c.isdigit() for c in line) for line in lines)


def _wrapped_address_end(body: _Body, end: int) -> int:
    """Past the address list the last header wrapped onto the next lines ("<jiri@x.cz>")."""
    for _ in range(2):
        if end >= len(body) or body.kinds[end] is not Kind.TEXT:
            break
        line, previous = body.lines[end].strip(), body.lines[end - 1].rstrip()
        if not (line.startswith("<") or "@" in line or previous.endswith((",", ";"))):
            break
        end += 1
    return end


def _header_follows(body: _Body, index: int) -> bool:
    window = range(index + 1, min(index + 3, len(body)))
    return any(body.kinds[i] is Kind.HEADER for i in window)


def _after_leading(body: _Body, marker: _Marker) -> int:
    """Where reading resumes after a marker with no customer text above it."""
    if not marker.attribution:
        return marker.end
    following = body.next_filled(marker.end)
    if following is None or body.kinds[following] is not Kind.QUOTE:
        return marker.end
    return body.run_end(following, frozenset({Kind.QUOTE, Kind.EMPTY}))


def _answer_below(body: _Body, marker: _Marker) -> tuple[list[int] | None, int]:
    """After an attribution under customer text: (lines to keep if the reply ends here, or
    None when the customer answered below the quote; where reading resumes)."""
    following = body.next_filled(marker.end)
    if following is None or body.kinds[following] is not Kind.QUOTE:
        return [], marker.end
    tail = body.run_end(following, frozenset({Kind.QUOTE, Kind.EMPTY}))
    answer = body.next_filled(tail)
    if answer is None:
        return [], marker.end
    if _signature_below(body, answer):
        return _signature_block(body, answer), marker.end
    if _answers_below(body, tail):
        return None, marker.end  # an inline reply: drop the attribution, keep quotes and answers
    return [], marker.end


def _answers_below(body: _Body, tail: int) -> bool:
    """Below the quote, words of the customer's, not the rest of an unquoted thread (another
    attribution or header block) nor debris such as a stray "<" from a broken soft break."""
    if _next_marker(body, tail) is not None:
        return False
    return any(
        body.kinds[i] is Kind.TEXT and sum(c.isalpha() for c in body.lines[i]) >= 2
        for i in range(tail, len(body))
    )


def _signature_below(body: _Body, answer: int) -> bool:
    """Is what stands under the quote, from line `answer` on, the sender's signature (a
    delimiter, a closing, a "-Name", a mobile line or a name over one) rather than an answer?"""
    if _starts_signature(body.lines[answer]):
        return True
    block = [body.lines[i] for i in _signature_block(body, answer)]
    filled = [line for line in block if line.strip()]
    return 0 < len(filled) <= _CLOSING_LINES + 1 and signature_start(["x", *filled]) == 1


def _signature_block(body: _Body, start: int) -> list[int]:
    """The sender's own signature placed under the quote (Thunderbird does that)."""
    allowed = frozenset({Kind.TEXT, Kind.EMPTY, Kind.RULE})
    return list(range(start, body.run_end(start, allowed)))


def _without_trailing_quote(body: _Body, kept: list[int]) -> list[int]:
    end = len(kept)
    while end and body.kinds[kept[end - 1]] in (Kind.QUOTE, Kind.EMPTY, Kind.ATTRIBUTION):
        end -= 1
    return kept[:end] if body.has(Kind.TEXT, kept[:end]) else kept


def _render(body: _Body, kept: list[int]) -> list[str]:
    """The kept lines; a gap where lines were removed becomes one blank line."""
    out: list[str] = []
    previous = None
    for i in kept:
        if previous is not None and i != previous + 1 and out and out[-1]:
            out.append("")
        out.append(body.lines[i].rstrip())
        previous = i
    return out


def _is_attribution(joined: str) -> bool:
    lowered = joined.lower()
    return any(pattern.match(lowered, joined) for pattern in _ATTRIBUTIONS)


def _join(head: str, tail: str) -> str:
    if head.endswith("="):
        return head[:-1] + tail  # a quoted-printable soft break left in the text
    return f"{head} {tail}"


def _starts_signature(line: str) -> bool:
    return bool(_DASH_SIGNATURE.match(line) or _MOBILE_SIGNATURE.match(line[:_SCAN]))


def _first_mobile(lines: Sequence[str], low: int) -> int | None:
    """A mobile line ("Sent from my iPhone"), with the name right above it if there is one."""
    for i in range(low, len(lines)):
        if i and len(lines[i]) <= 200 and _MOBILE_SIGNATURE.match(lines[i]):
            return i - 1 if _is_name(lines[i - 1]) and _has_content(lines[: i - 1]) else i
    return None


def _dash_name(lines: Sequence[str], low: int) -> int | None:
    """A "-Name" line last, or last but a mobile line: a signature on its own, not the last
    item of a list (a dash line above it, or a line that announces one: "Options:")."""
    filled = [i for i in range(low, len(lines)) if lines[i].strip()]
    for i in filled[-2:]:
        if _DASH_NAME.match(lines[i][:_SCAN]) and _is_name(lines[i].lstrip(" -–—~")):
            above = lines[i - 1].strip() if i else ""
            return None if above.startswith(("-", "–", "—", "*")) or above.endswith(":") else i
    return None


def _is_name(line: str) -> bool:
    """One to three capitalised words and nothing else: "Raj", "Олег Зуев"."""
    words = line.split()
    return bool(_NAME.match(line[:_SCAN])) and all(word[0].isupper() for word in words)


def _first_closing(lines: Sequence[str], low: int) -> int | None:
    """A closing ("С уважением,") with at most a few short lines under it."""
    for i in range(max(low, len(lines) - _CLOSING_LINES - 8, 1), len(lines)):
        line = lines[i].strip()
        below = [text for text in lines[i + 1 :] if text.strip()]
        short = len(below) <= _CLOSING_LINES and all(len(text) <= 100 for text in below)
        if short and (_CLOSING.match(line) or (_THANKS.match(line) and below)):
            return i
    return None


def _include_decoration(lines: Sequence[str], start: int) -> int:
    """Move the start up over lines of symbols only (rules, Gmail's tracking "ᐧ")."""
    i = start
    while i > 0:
        above = lines[i - 1].strip()
        if above and not all(not c.isalnum() or c == "ᐧ" for c in above):
            break
        i -= 1
    while i < start and not lines[i].strip():
        i += 1
    return i


def _normalise(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _has_content(lines: Sequence[str]) -> bool:
    """Anything visible: "+" and "ok" are whole answers in a sales conversation."""
    return any(line.translate(_INVISIBLE).strip() for line in lines)


def _without_trailing_rules(lines: list[str]) -> list[str]:
    """Drop rules and bare delimiters ("--", "____", Gmail's "ᐧ") left at the very end."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _DECORATION.match(lines[end - 1])):
        end -= 1
    return _trim_blank(lines[:end]) if _has_content(lines[:end]) else lines


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]
