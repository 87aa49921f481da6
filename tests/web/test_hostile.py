"""The check of hostile text, on pages written carelessly and carefully."""

from __future__ import annotations

from html import escape

import pytest

from tests.web.console_client import ConsoleSite
from tests.web.hostile import HOSTILE, JAVASCRIPT_URL, assert_shown_as_text, read_page

CAREFUL = '<html><head><script src="/static/board.js" defer></script></head><body>{}</body>'


@pytest.mark.parametrize("payload", HOSTILE)
def test_escaped_text_passes(payload: str) -> None:
    assert_shown_as_text(CAREFUL.format(f"<p>{escape(payload)}</p>"), payload)
    assert_shown_as_text(CAREFUL.format(f'<input value="{escape(payload)}">'), payload)


@pytest.mark.parametrize("payload", [p for p in HOSTILE if p != JAVASCRIPT_URL])
def test_text_pasted_into_the_page_is_caught(payload: str) -> None:
    with pytest.raises(AssertionError, match="live markup"):
        assert_shown_as_text(CAREFUL.format(f"<p>{payload}</p>"), payload)


@pytest.mark.parametrize(
    "careless",
    [
        '<a href="{}">site</a>',  # a customer's website as a link
        "<a href=' {}'>site</a>",  # browsers skip the leading space
        "<input value='{}'>",  # unescaped in single quotes
        '<input value="{}">',
    ],
)
def test_values_placed_in_attributes_carelessly_are_caught(careless: str) -> None:
    payload = JAVASCRIPT_URL if "href" in careless else HOSTILE[5]
    live, _ = read_page(CAREFUL.format(careless.format(payload)))
    assert live


def test_text_that_is_not_on_the_page_fails() -> None:
    with pytest.raises(AssertionError, match="not shown"):
        assert_shown_as_text(CAREFUL.format("<p>removed</p>"), HOSTILE[0])


def test_an_inline_script_or_a_frame_is_live() -> None:
    for careless in ("<script>1</script>", '<script src="https://cdn.example/x.js"></script>',
                     '<iframe src="/"></iframe>'):  # fmt: skip
        assert read_page(careless)[0]


async def test_the_header_shows_a_persons_name_as_text(site: ConsoleSite) -> None:
    for payload in HOSTILE:
        person = await site.signed_in(await site.add_rep(payload, role="manager"))
        assert_shown_as_text((await person.get("/")).text, f"Signed in as {payload}")
