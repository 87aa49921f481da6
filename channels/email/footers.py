"""Where a mailing list's footer starts at the end of a body, if it has one.

A list server appends its footer under everything the sender wrote, quotes included: Mailman's
underscore rule, the list's name and its address; Google Groups' "--" and "You received this
message because you are subscribed…"; a newsletter's "Чтобы отписаться…". None of it is the
customer's, so it goes before the reply is read.

A footer is the last block of the body, of at most MAX_FOOTER_LINES filled lines, none of them
a quote or a question, each paragraph of it speaking of the list or giving a link, and either

- a delimiter line (`--`, `---`, `____`, `====`) whose first filled line below speaks of the
  list (a subscription, unsubscribing, "mailing list", a listinfo address), or
- a paragraph that opens with a list's own sentence ("You received this message because…",
  "To unsubscribe from this list…", "Вы получили это сообщение…", "Чтобы отписаться от
  рассылки…").

A customer's own question about unsubscribing is not one: a footer line never asks ("?"), and
only the sentences lists use open a paragraph-footer. Nothing is a footer unless some text
stands above it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_FOOTER_LINES = 8  # Google Groups writes 2–4 lines, Mailman 3–4
_SCAN = 400  # characters of a line the patterns look at
_REACH = 30  # lines from the end a footer can start on

_DELIMITER = re.compile(r"^\s*(?:--|-{3,}|_{3,}|={3,}|—{2,})\s*$")
_I = re.IGNORECASE
# Sentences list servers open their footers with.
_OPENING = re.compile(
    r"^\s*(?:you\s+(?:have\s+)?(?:received|are\s+receiving)\s+this\s+(?:\w+\s+)?because\s+you\s+"
    r"(?:are|were|have|signed)\s|to\s+unsubscribe(?:\s+from\s+(?:this|the)\s+(?:list|group|mailing|newsletter)|,?"
    r"\s+(?:send|reply|e-?mail|visit|click|go|use|write))|to\s+stop\s+receiving\s|"
    r"manage\s+(?:your\s+)?subscription|unsubscribe\s*:|[\w.-]+\s+mailing\s+list\b|"
    r"вы\s+получили\s+(?:это|данное)\s+(?:сообщение|письмо),?\s+(?:так\s+как|поскольку|потому\s+что)"
    r"\s+(?:вы\s+)?(?:подписан|являетесь|зарегистрирован)|вы\s+подписаны\s+на\s|"
    r"чтобы\s+(?:отписаться|отменить\s+подписку)(?:\s+от\s+(?:этой\s+|нашей\s+)?"
    r"(?:рассылки|группы|списка)|,?\s+(?:ответьте|перейдите|нажмите|отправьте|напишите))|"
    r"отписаться\s*:|отписаться\s+от\s+рассылки)",
    _I,
)
# Words a line under a delimiter uses when it speaks of the list.
_MENTION = re.compile(
    r"\bunsubscrib|\bmailing\s+list\b|/listinfo/|\bsubscribed\s+to\b|\bsubscription\b|"
    r"отписать|отписк|отменить\s+подписку|подписаны\s+на|рассылк",
    _I,
)
_LINK = re.compile(r"https?://|[\w.+-]+@[\w-]+\.", _I)


def footer_start(lines: Sequence[str]) -> int | None:
    """Index of the first line of the list footer ending `lines`, or None."""
    found = None
    for i in range(len(lines) - 1, max(-1, len(lines) - _REACH - 1), -1):
        if _opens_footer(lines, i) and _is_footer_block(lines[i:]):
            found = i
    if found is None or not any(line.strip() for line in lines[:found]):
        return None
    return found


def _opens_footer(lines: Sequence[str], i: int) -> bool:
    line = lines[i][:_SCAN]
    if _DELIMITER.match(line):
        below = next((text for text in lines[i + 1 :] if text.strip()), "")
        return bool(_MENTION.search(below[:_SCAN]) or _OPENING.match(below[:_SCAN]))
    starts_paragraph = i == 0 or not lines[i - 1].strip() or _DELIMITER.match(lines[i - 1])
    return bool(starts_paragraph and _OPENING.match(line))


def _is_footer_block(block: Sequence[str]) -> bool:
    """Short, no quote and no question in it, and each paragraph about the list or a link."""
    filled = [line.strip() for line in block if line.strip()]
    if len(filled) > MAX_FOOTER_LINES + 1:
        return False
    if any(line.startswith(">") or line.endswith("?") for line in filled):
        return False
    return all(map(_speaks_of_the_list, _paragraphs(block)))


def _paragraphs(block: Sequence[str]) -> list[list[str]]:
    paragraphs: list[list[str]] = [[]]
    for line in block:
        if line.strip():
            paragraphs[-1].append(line[:_SCAN])
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def _speaks_of_the_list(paragraph: Sequence[str]) -> bool:
    return any(
        _DELIMITER.match(line)
        or _MENTION.search(line)
        or _OPENING.match(line)
        or _LINK.search(line)
        for line in paragraph
    )
