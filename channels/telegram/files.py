"""The files of a customer's Telegram message, fetched for a rep on another channel.

A rep by email cannot open a Telegram file id: the file is downloaded through the Bot API
(getFile, then the file URL) and attached to the mail. The Bot API serves files up to 20 MB;
larger ones are left out and the rep still gets the label naming them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram.error import TelegramError

from bot.model import FileCopy
from channels.telegram.normalize import MEDIA

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 20 * 1024 * 1024
# What a kind of media is when Telegram gives no name or MIME type for it.
DEFAULTS = {
    "photo": ("photo.jpg", "image/jpeg"),
    "voice": ("voice.ogg", "audio/ogg"),
    "video_note": ("video_note.mp4", "video/mp4"),
    "sticker": ("sticker.webp", "image/webp"),
    "animation": ("animation.mp4", "video/mp4"),
    "video": ("video.mp4", "video/mp4"),
    "audio": ("audio.mp3", "audio/mpeg"),
}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


@dataclass(frozen=True, slots=True)
class Media:
    file_id: str
    name: str
    mime_type: str
    size: int | None


def media_of(update: Mapping[str, Any]) -> list[Media]:
    """The files of the update's message, the largest size of a photo."""
    message = update.get("message") or update.get("edited_message")
    if not isinstance(message, Mapping):
        return []
    found = []
    for kind in MEDIA:
        item = message.get(kind)
        if isinstance(item, list):  # photo sizes, smallest first
            item = item[-1] if item else None
        if isinstance(item, Mapping) and isinstance(item.get("file_id"), str):
            found.append(_media(kind, item))
    return found


def _media(kind: str, item: Mapping[str, Any]) -> Media:
    default_name, default_type = DEFAULTS.get(kind, (kind, "application/octet-stream"))
    name = _UNSAFE_NAME.sub("_", str(item.get("file_name") or "")).strip()[:100]
    size = item.get("file_size")
    return Media(
        file_id=item["file_id"],
        name=name or default_name,
        mime_type=str(item.get("mime_type") or default_type),
        size=size if isinstance(size, int) else None,
    )


async def download(client: Bot, update: Mapping[str, Any]) -> list[FileCopy]:
    files = []
    for media in media_of(update):
        if media.size is not None and media.size > MAX_DOWNLOAD:
            log.info("%s not fetched for a rep: %d bytes", media.name, media.size)
            continue
        try:
            found = await client.get_file(media.file_id)
            data = bytes(await found.download_as_bytearray())
        except TelegramError as error:
            log.warning("%s not fetched for a rep: %s", media.name, error)
            continue
        files.append(FileCopy(media.name, media.mime_type, data))
    return files
