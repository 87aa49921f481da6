"""wordfreq's frequency lists read from a file, not held in memory.

wordfreq answers `zipf_frequency` from a dict of its whole list (320,000 English and 710,000
Russian words: about 190 MiB of Python objects in a process that reads both). Here the same
list lives in one small SQLite file per language (the standard library's `sqlite3`, so no
new dependency): a table of (word, centibels) keyed by the word, read a page at a time, with
SQLite's page cache (2 MiB) as all the memory it takes. `zipf` then does what wordfreq's
`zipf_frequency(word, lang, wordlist="large")` does, step for step, with wordfreq's own
tokenizer and number handling: the answer is the same float.

The file is built from wordfreq's data in a child process, since reading the list needs the
memory this module exists to avoid, and kept under $XDG_CACHE_HOME/touchpoint (a folder in
the system's temporary directory when that one cannot be written: a read-only home). Its name
carries wordfreq's version and this format's, so an upgrade builds a new one. It is written
under a temporary name and renamed into place: instances starting at once may each build it,
and a reader only ever sees a whole file. A file that cannot be read is built again.
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Final

from wordfreq import cB_to_freq, freq_to_zipf, get_frequency_list, zipf_to_freq
from wordfreq.numbers import digit_freq, smash_numbers
from wordfreq.tokens import lossy_tokenize

FORMAT: Final = 1
WORDLIST: Final = "large"
# zipf_frequency's default minimum (Zipf 0) as the frequency word_frequency is given.
_MINIMUM: Final = zipf_to_freq(0.0)


class WordStore:
    """One language's word list, read from its file."""

    def __init__(self, path: Path, lang: str) -> None:
        self.path = path
        self.lang = lang
        uri = f"{path.as_uri()}?mode=ro&immutable=1"  # never written: no locks, no journal
        # Shared by the event loop and the SQLite writer thread: Python's sqlite3 is built
        # serialized (threadsafety 3), so one connection may serve both.
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        try:
            _check(self._db, lang)
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    def centibels(self, token: str) -> int | None:
        """The token's frequency in wordfreq's units (-centibels), None when it is not listed."""
        row = self._db.execute("SELECT cb FROM words WHERE word = ?", (token,)).fetchone()
        return None if row is None else int(row[0])

    def zipf(self, word: str) -> float:
        """`wordfreq.zipf_frequency(word, lang, wordlist="large")`, the same float."""
        return round(freq_to_zipf(self._frequency(word)), 2)

    def _frequency(self, word: str) -> float:
        # wordfreq's _word_frequency for a language split at spaces (English and Russian are:
        # its correction for inferred word breaks applies to Chinese and Japanese only).
        tokens = lossy_tokenize(word, self.lang)
        if not tokens:
            return _MINIMUM
        one_over_result = 0.0
        for token in tokens:
            smashed = smash_numbers(token)  # digits are listed as zeros: "2024" as "0000"
            index = self.centibels(smashed)
            if index is None:
                return _MINIMUM
            freq = cB_to_freq(-index)
            if smashed != token:
                freq *= digit_freq(token)
            one_over_result += 1.0 / freq
        return _rounded(max(1.0 / one_over_result, _MINIMUM))

    def close(self) -> None:
        self._db.close()


def _rounded(freq: float) -> float:
    # As wordfreq rounds: to three significant digits.
    leading_zeroes = math.floor(-math.log(freq, 10))
    return round(freq, leading_zeroes + 3)


def open_store(lang: str, folder: Path | None = None) -> WordStore:
    """The language's store, built first (in a child process) when missing or unreadable."""
    failures: list[str] = []
    for candidate in [folder] if folder else cache_folders():
        try:
            return _open_or_build(lang, candidate / store_name(lang))
        except (OSError, subprocess.CalledProcessError) as error:
            failures.append(f"{candidate}: {_said(error)}")  # one we cannot write: the next
    raise OSError(f"no folder could hold the {lang} word list: {'; '.join(failures)}")


def _open_or_build(lang: str, path: Path) -> WordStore:
    _ensure_ours(path.parent)
    try:
        return WordStore(path, lang)
    except sqlite3.DatabaseError:  # missing, or not a whole store
        build_in_child(lang, path)
        return WordStore(path, lang)


def _ensure_ours(folder: Path) -> None:
    # The fallback folder is in the shared temporary directory: one made by another user could
    # hand this process a word list of theirs.
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_uid != os.getuid():
        raise PermissionError(f"{folder} belongs to another user")


def _said(error: Exception) -> str:
    if isinstance(error, subprocess.CalledProcessError):
        return str(error.stderr.decode(errors="replace").strip()[-300:])
    return str(error)


def cache_folders() -> list[Path]:
    home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [home_cache / "touchpoint", Path(tempfile.gettempdir()) / f"touchpoint-{os.getuid()}"]


def store_name(lang: str) -> str:
    return f"words-{lang}-wordfreq-{version('wordfreq')}-{WORDLIST}-{FORMAT}.sqlite3"


def build_in_child(lang: str, path: Path) -> None:
    """Builds the store in a child process, whose memory is returned when it exits."""
    command = [sys.executable, "-m", "bot.word_store", lang, str(path)]
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True)


def build(lang: str, path: Path) -> None:
    """Writes the store under a temporary name in its folder, then renames it into place."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        _write(lang, temporary)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write(lang: str, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(_SCHEMA)
        rows = _rows(get_frequency_list(lang, WORDLIST))
        db.executemany("INSERT OR REPLACE INTO words VALUES (?, ?)", rows)
        count = db.execute("SELECT count(*) FROM words").fetchone()[0]
        db.execute("INSERT INTO meta VALUES (?, ?, ?)", (lang, FORMAT, count))
        db.commit()
        db.execute("VACUUM")  # pages in key order, none half empty
    finally:
        db.close()


def _rows(buckets: list[list[str]]) -> list[tuple[str, int]]:
    # Bucket i holds the words of frequency -i centibels. Inserted in this order, a word listed
    # twice would keep its last bucket, as in wordfreq's dict.
    return [(word, index) for index, bucket in enumerate(buckets) for word in bucket]


def _check(db: sqlite3.Connection, lang: str) -> None:
    """Raises DatabaseError unless the file is a whole store of `lang` (counting its words reads
    every page of the table, so a truncated or damaged file fails here, not in a turn)."""
    meta = db.execute("SELECT lang, format, words FROM meta").fetchone()
    count = db.execute("SELECT count(*) FROM words").fetchone()[0]
    if meta != (lang, FORMAT, count):
        raise sqlite3.DatabaseError(f"not a whole {lang} word store: {meta}")


_SCHEMA: Final = """
CREATE TABLE words (word TEXT PRIMARY KEY, cb INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE meta (lang TEXT NOT NULL, format INTEGER NOT NULL, words INTEGER NOT NULL);
"""


if __name__ == "__main__":
    build(sys.argv[1], Path(sys.argv[2]))
