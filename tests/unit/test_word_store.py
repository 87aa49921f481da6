"""The word store answers as wordfreq does, and builds its files safely."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
from wordfreq import get_frequency_list, zipf_frequency

from bot.word_store import WordStore, build_in_child, open_store, store_name

LANGUAGES = ("en", "ru")

# What the router passes, and what wordfreq's tokenizer makes something else of: capitals, ё,
# apostrophes, hyphens, digits (listed as zeros), punctuation, nothing at all, unseen words.
AWKWARD = [
    "",
    " ",
    "...",
    "-",
    "'",
    "the",
    "The",
    "THE",
    "don't",
    "Don't",
    "it's",
    "l'amour",
    "o'clock",
    "rock'n'roll",
    "hello-world",
    "e-mail",
    "c++",
    "c#",
    "123",
    "2024",
    "3.14",
    "10,000",
    "1st",
    "iphone15",
    "iPhone",
    "Lenovo",
    "HP",
    "mp3",
    "4k",
    "ёлка",
    "елка",
    "Ёлка",
    "ещё",
    "еще",
    "всё",
    "мир!",
    "кто-нибудь",
    "из-за",
    "ноутбуков",
    "zzqxv",
    "йцукенг",
    "привет123",
    "naïve",
    "café",
    "Straße",
    "ﬁle",
    "contract",
    "contact",
    "need",
    "price",
    "ﾃｽﾄ",
    "😀",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("words")


@pytest.fixture(scope="module")
def stores(folder: Path) -> dict[str, WordStore]:
    return {lang: open_store(lang, folder) for lang in LANGUAGES}


def sample() -> list[str]:
    """Every 37th listed word of both lists, each also capitalised, with ё for е, and unseen."""
    listed = [w for lang in LANGUAGES for b in get_frequency_list(lang, "large") for w in b][::37]
    variants = [w.capitalize() for w in listed[::5]] + [w.replace("е", "ё") for w in listed[::5]]
    return AWKWARD + listed + variants + [w + "qz" for w in listed[::7]]


def test_every_answer_is_wordfreqs(stores: dict[str, WordStore]) -> None:
    words = sample()
    assert len(words) > 30_000
    for lang, store in stores.items():
        differ = [w for w in words if store.zipf(w) != zipf_frequency(w, lang, wordlist="large")]
        assert differ == []


def test_a_missing_file_is_built_and_kept(tmp_path: Path) -> None:
    open_store("en", tmp_path).close()
    built = tmp_path / store_name("en")
    stamp = built.stat().st_mtime_ns
    store = open_store("en", tmp_path)
    assert store.zipf("the") == 7.73
    assert built.stat().st_mtime_ns == stamp  # read, not built again
    assert [p.name for p in tmp_path.iterdir()] == [built.name]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_file_is_built_again(
    tmp_path: Path, stores: dict[str, WordStore], damage: str
) -> None:
    path = tmp_path / store_name("en")
    whole = stores["en"].path.read_bytes()
    damaged = {
        "garbage": b"not a database" * 100,
        "truncated": whole[: len(whole) // 2],
        "empty": b"",
    }
    path.write_bytes(damaged[damage])
    assert open_store("en", tmp_path).zipf("price") == zipf_frequency("price", "en", "large")
    assert path.read_bytes() == whole


def test_instances_building_at_once_leave_one_whole_file(tmp_path: Path) -> None:
    path = tmp_path / store_name("en")
    builders = [threading.Thread(target=build_in_child, args=("en", path)) for _ in range(3)]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join()
    assert WordStore(path, "en").zipf("contract") == zipf_frequency("contract", "en", "large")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_an_unwritable_cache_falls_back_to_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("")  # no folder can be made under a file, even by root
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert open_store("en", None).zipf("quote") == zipf_frequency("quote", "en", "large")
    assert list((tmp_path / "tmp").glob("touchpoint-*/words-en-*"))


def test_no_writable_folder_is_said_with_the_folder(tmp_path: Path) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("")
    with pytest.raises(OSError, match="a file/words"):
        open_store("en", blocked / "words")


def test_a_folder_of_another_user_is_not_read(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    if os.getuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    os.chown(theirs, 65534, -1)
    with pytest.raises(OSError, match="belongs to another user"):
        open_store("en", theirs)
    assert list(theirs.iterdir()) == []
