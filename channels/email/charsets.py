"""Bytes to text for mail that lies about its charset.

Russian mail arrives as utf-8, windows-1251 or koi8-r, often labelled wrongly or not at all, and
a single-byte codec never fails, so "it decoded" proves nothing. `decode_text` tries, in order:
the declared charset (unless the text it gives is implausible), strict utf-8, windows-1251 or
koi8-r chosen by how Russian the result looks, windows-1252, and latin-1, which cannot fail.
Stray undecodable bytes inside otherwise good text are decoded one run at a time by the same
single-byte guess, so no U+FFFD is ever produced from bytes we could read.
"""

from __future__ import annotations

import codecs
import functools
import math
import re
import unicodedata

# Share of each lower-case Cyrillic letter in Russian prose (per cent); Ukrainian and
# Belarusian letters get modest weights so that those languages still score as plausible.
_LETTER_SHARE = {
    "о": 10.97, "е": 8.45, "а": 8.01, "и": 7.35, "н": 6.70, "т": 6.26, "с": 5.47,
    "р": 4.73, "в": 4.54, "л": 4.40, "к": 3.49, "м": 3.21, "д": 2.98, "п": 2.81,
    "у": 2.62, "я": 2.01, "ы": 1.90, "ь": 1.74, "г": 1.70, "з": 1.65, "б": 1.59,
    "ч": 1.44, "й": 1.21, "х": 0.97, "ж": 0.94, "ш": 0.73, "ю": 0.64, "ц": 0.48,
    "щ": 0.36, "э": 0.32, "ф": 0.26, "ъ": 0.04, "ё": 0.04, "і": 1.5, "ї": 0.3,
    "є": 0.3, "ґ": 0.05, "ў": 0.1,
}  # fmt: skip
_RARE_SHARE = 0.005  # Serbian/Macedonian letters a wrong codec produces (ђ, љ, ћ...)
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_WORD = re.compile(r"[^\W\d_]+")
_BOX_DRAWING = re.compile(r"[\u2500-\u25ff\u2320-\u2321\u2219\u221a\u2248\u2264\u2265]")
_ESCAPED = re.compile(r"[\udc80-\udcff]+")
_ESCAPED_TAIL = re.compile(r"[\udc80-\udcff]{1,3}$")

_GUESSES = ("cp1251", "koi8_r")
_CYRILLIC_CODECS = frozenset({"cp1251", "koi8-r", "koi8-u", "iso8859-5", "cp866", "mac-cyrillic"})
_GOOD_PER_BAD = 4  # characters a multi-byte codec must read for each byte it cannot
_PLAUSIBLE = -4.3  # mean log share of a real Russian text is about -3.3, a wrong codec's below -5
_SWITCH_MARGIN = 0.8

_ALIASES = {
    "x-mac-cyrillic": "mac_cyrillic",
    "mac-cyrillic": "mac_cyrillic",
    "x-mac-ukrainian": "mac_cyrillic",
    "win-1251": "cp1251",
    "win1251": "cp1251",
    "cp-1251": "cp1251",
    "windows-1251": "cp1251",
    "koi8r": "koi8_r",
    "koi8-r": "koi8_r",
    "koi8-u": "koi8_u",
    "iso-8859-8-i": "iso8859_8",  # "logical order" labels of Hebrew and Arabic
    "iso-8859-8-e": "iso8859_8",
    "iso-8859-6-i": "iso8859_6",
    "iso-8859-6-e": "iso8859_6",
    "iso-8859-1": "cp1252",  # WHATWG practice: latin-1 labels are windows-1252 in the wild
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
_NOT_A_DECLARATION = frozenset(
    {"", "us-ascii", "ascii", "unknown", "unknown-8bit", "x-unknown", "default", "8bit"}
)
_UNSAFE_CODECS = frozenset(
    {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "mbcs", "oem"}
)


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode mail bytes to text; never raises, never invents U+FFFD for readable bytes."""
    if data.isascii():
        return _decode_seven_bit(data, declared)
    for codec in _candidates(declared):
        text = _decode_mostly(data, codec)
        if text is not None and not _mislabelled(data, codec, text):
            return text
    return decode_single_byte(data)


def _decode_seven_bit(data: bytes, declared: str | None) -> str:
    """ASCII bytes are ASCII text, except in the 7-bit codecs (iso-2022-jp, utf-7)."""
    codec = codec_name(declared) or ("iso2022_jp" if b"\x1b$" in data else None)
    if codec is None or (b"\x1b" not in data and b"+" not in data):
        return data.decode("ascii")
    try:
        # Python lacks Microsoft's iso-2022-jp extensions (NEC row 13: "№", "①"...):
        # one such character becomes U+FFFD rather than the whole text staying escaped.
        return data.decode(codec, "replace")
    except (LookupError, UnicodeError):
        return data.decode("ascii")


def decode_single_byte(data: bytes) -> str:
    """The last resort for bytes with no usable label: Russian if it reads as Russian."""
    russian = guess_cyrillic(data)
    if russian is not None:
        return russian
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def recover_escaped(text: str, declared: str | None = None) -> str:
    """Text read with `surrogateescape` (raw 8-bit header bytes) decoded properly."""
    if not _ESCAPED.search(text):
        return text
    return decode_text(text.encode("utf-8", "surrogateescape"), declared)


def codec_name(declared: str | None) -> str | None:
    """The Python codec for a declared charset, or None when it is absent, unknown or unsafe."""
    label = (declared or "").strip().strip("\"'").lower()
    if label in _NOT_A_DECLARATION:
        return None
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
        b"x".decode(name, "replace")  # bytes-to-bytes codecs (base64, zlib...) refuse here
    except (LookupError, ValueError):
        return None
    return None if name in _UNSAFE_CODECS else name


def guess_cyrillic(data: bytes) -> str | None:
    """windows-1251 or koi8-r, whichever reads as Russian, or None if neither does."""
    scored = [(cyrillic_score(text), text) for text in _single_byte_decodings(data)]
    best = max(scored, default=(None, ""), key=lambda pair: pair[0] or -math.inf)
    score, text = best
    if score is None or score < _PLAUSIBLE or not _mostly_cyrillic(text):
        return None
    return text


def cyrillic_score(text: str) -> float | None:
    """How much `text` looks like Cyrillic prose (higher is better); None without Cyrillic.

    The mean log frequency of its letters tells windows-1251 from koi8-r (each maps Russian
    letters onto rarer ones in the other); koi8-r and windows-1251 also swap upper and lower
    case, so mixed-case words ("сГМЮИ" instead of "Узнай") and a text mostly in capitals count
    against a reading; box-drawing symbols are what koi8-r makes of windows-1251 punctuation.
    """
    letters = [c for c in text if _CYRILLIC.match(c)]
    if not letters:
        return None
    shares = (_LETTER_SHARE.get(c.lower(), _RARE_SHARE) / 100 for c in letters)
    mean_log = sum(math.log(share) for share in shares) / len(letters)
    return mean_log - 4 * _bad_case_share(text) - _capitals_penalty(letters) - 10 * _boxes(text)


def _capitals_penalty(letters: list[str]) -> float:
    """Prose is mostly lower case; a short reply in capitals ("ДА") is not evidence either way."""
    capitals = sum(1 for c in letters if c.isupper()) / len(letters)
    evidence = min(1.0, len(letters) / 8)
    return 2 * max(0.0, capitals - 0.5) * evidence


def _boxes(text: str) -> float:
    return len(_BOX_DRAWING.findall(text)) / max(1, len(text))


def _candidates(declared: str | None) -> list[str]:
    declared_codec = codec_name(declared)
    if declared_codec is None or declared_codec == "utf-8":
        return ["utf-8"]
    return [declared_codec, "utf-8"]


def _decode_mostly(data: bytes, codec: str) -> str | None:
    """Decode with `codec`, patching a few bad bytes; None if too many are bad."""
    try:
        text = _without_cut_character(data.decode(codec, "surrogateescape"), codec)
    except (LookupError, UnicodeError, ValueError):
        return None
    bad = sum(len(run) for run in _ESCAPED.findall(text))
    if bad == 0:
        return text
    if _is_single_byte(codec):
        return None
    decoded = sum(1 for c in text if ord(c) > 127) - bad
    if decoded < _GOOD_PER_BAD * bad:
        return None  # not this codec at all, just a few byte pairs that happen to fit
    return _ESCAPED.sub(lambda run: _patch(run.group()), text)


def _without_cut_character(text: str, codec: str) -> str:
    """Drop a utf-8 character cut in half at the very end (a truncated name or body)."""
    tail = _ESCAPED_TAIL.search(text) if codec == "utf-8" else None
    if tail is None:
        return text
    try:
        tail.group().encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return text[: tail.start()]
    return text


def _patch(run: str) -> str:
    return decode_single_byte(run.encode("utf-8", "surrogateescape"))


def _mislabelled(data: bytes, codec: str, text: str) -> bool:
    """True when the label is evidently wrong for these bytes."""
    if codec == "utf-8":
        return False
    if _strict(data, "utf-8") is not None:
        return True  # real 8-bit text is almost never valid utf-8 by accident
    if not _is_single_byte(codec):
        return False
    if codec in _CYRILLIC_CODECS:
        return not _mostly_cyrillic(text) or _better_cyrillic_exists(data, text)
    return not _plausible(text) and guess_cyrillic(data) is not None


def _better_cyrillic_exists(data: bytes, text: str) -> bool:
    own = cyrillic_score(text)
    if own is None:
        return False
    others = (cyrillic_score(t) for t in _single_byte_decodings(data))
    return any(other is not None and other > own + _SWITCH_MARGIN for other in others)


def _plausible(text: str) -> bool:
    """Words of one script each, and Latin ones with some ASCII in them ("café"): a wrong
    single-byte codec gives Latin words of accented letters only ("Ïðèâåò") or a mix of
    scripts inside words ("Formaзгo")."""
    words = [w for w in _WORD.findall(text) if not w.isascii()]
    good = sum(1 for w in words if _plausible_word(w))
    return good * 2 >= len(words)


def _plausible_word(word: str) -> bool:
    scripts = {_script(c) for c in word}
    if len(scripts) != 1:
        return False
    return scripts != {"LATIN"} or any(c.isascii() for c in word)


@functools.lru_cache(maxsize=4096)
def _script(char: str) -> str:
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def _mostly_cyrillic(text: str) -> bool:
    """Cyrillic words, not Latin words with Cyrillic letters in them ("Formaзгo")."""
    words = [w for w in _WORD.findall(text) if not w.isascii()]
    if not words:
        return False
    pure = sum(1 for w in words if all(_CYRILLIC.match(c) or not c.isalpha() for c in w))
    return pure * 4 >= len(words) * 3


def _bad_case_share(text: str) -> float:
    """Share of Cyrillic words whose case is neither lower, upper nor Title."""
    words = [w for w in _WORD.findall(text) if len(w) > 1 and _CYRILLIC.match(w[0])]
    if not words:
        return 0.0
    bad = sum(1 for w in words if not (w.islower() or w.isupper() or w.istitle()))
    return bad / len(words)


def _single_byte_decodings(data: bytes) -> list[str]:
    return [text for text in (_strict(data, codec) for codec in _GUESSES) if text is not None]


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


@functools.cache
def _is_single_byte(codec: str) -> bool:
    """One character per byte (cp1251, koi8-r, latin-1...), where decoding proves nothing."""
    if codec.startswith("utf"):
        return False
    try:
        return len(bytes(range(256)).decode(codec, "replace")) == 256
    except (LookupError, UnicodeError):
        return False
