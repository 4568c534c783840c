"""Telegram media as channel-neutral `Media`: what a message carries, and how to fetch a file.

Only the file id travels (in the ticket's outbox row); the bytes are downloaded when staff's
tool forwards them, through the Bot API's getFile (up to 20 MB for bots).
"""

from __future__ import annotations

from telegram import Bot, Message
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.core.messages import Media
from bot.media import MediaUnavailable

# (attribute, default file name, default MIME type), in the order Telegram nests them
_FILES = (("document", "document", "application/octet-stream"), ("voice", "voice-message.ogg", "audio/ogg"),
          ("audio", "audio", "audio/mpeg"), ("video", "video.mp4", "video/mp4"),
          ("video_note", "video-note.mp4", "video/mp4"), ("animation", "animation.mp4", "video/mp4"),
          ("sticker", "sticker.webp", "image/webp"))


def media_of(message: Message) -> Media | None:
    """The photo, file or item in a message; None for plain text and service messages."""
    if message.photo:
        biggest = max(message.photo, key=lambda p: (p.width or 0) * (p.height or 0))
        return Media("photo", biggest.file_id, "photo.jpg", "image/jpeg", biggest.file_size)
    for kind, default_name, default_mime in _FILES:
        item = getattr(message, kind, None)
        if item is not None:
            return Media(kind, item.file_id, getattr(item, "file_name", None) or default_name,
                         getattr(item, "mime_type", None) or default_mime, item.file_size)
    if message.venue is not None:
        return Media("venue", description=f"{message.venue.title}, {message.venue.address}")
    if message.location is not None:
        return Media("location", description=f"{message.location.latitude:.5f}, {message.location.longitude:.5f} "
                     f"https://www.openstreetmap.org/?mlat={message.location.latitude:.5f}"
                     f"&mlon={message.location.longitude:.5f}")
    if message.contact is not None:
        name = " ".join(p for p in (message.contact.first_name, message.contact.last_name) if p)
        return Media("contact", description=f"{name} {message.contact.phone_number}".strip())
    if message.poll is not None:
        return Media("poll", description=message.poll.question)
    if message.dice is not None:
        return Media("dice")
    return None


def fetcher(bot: Bot):
    """A `bot.media` fetcher downloading through this bot (honours base_file_url)."""
    async def fetch(media: Media) -> bytes:
        try:
            file = await bot.get_file(media.ref)
            return bytes(await file.download_as_bytearray())
        except BadRequest as exc:  # "file is too big", an expired or unknown file id
            raise MediaUnavailable(f"Telegram refused the file ({exc.message})") from exc
        except NetworkError:  # passing: the outbox tries again later
            raise
        except TelegramError as exc:
            raise MediaUnavailable(f"Telegram did not deliver the file ({exc.__class__.__name__})") from exc
    return fetch
