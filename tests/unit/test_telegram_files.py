"""Which files of a Telegram update are fetched for a rep on another channel, and as what."""

from __future__ import annotations

from channels.telegram.adapter import file_url
from channels.telegram.files import Media, media_of


def test_the_largest_photo_size_with_a_name_and_type_telegram_does_not_give() -> None:
    sizes = [{"file_id": "small", "file_size": 10}, {"file_id": "large", "file_size": 900}]
    assert media_of({"message": {"photo": sizes, "caption": "see"}}) == [
        Media("large", "photo.jpg", "image/jpeg", 900)
    ]


def test_a_document_keeps_its_name_made_safe_and_its_type() -> None:
    document = {
        "file_id": "d1",
        "file_name": "../../etc/passwd\r\n.pdf",
        "mime_type": "application/pdf",
    }
    assert media_of({"message": {"document": document}}) == [
        Media("d1", ".._.._etc_passwd_.pdf", "application/pdf", None)
    ]


def test_updates_without_files_or_with_junk_give_nothing() -> None:
    assert media_of({"message": {"text": "hi"}}) == []
    assert media_of({"callback_query": {"data": "x"}}) == []
    assert media_of({"message": {"photo": []}}) == []
    assert media_of({"message": {"voice": {"file_id": 5}}}) == []  # not a file id


def test_files_are_downloaded_beside_the_api_url() -> None:
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"
