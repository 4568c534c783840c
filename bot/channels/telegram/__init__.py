"""The Telegram channel (python-telegram-bot v22): see `channel.py` for what it does and why.

    homeroom = await bot.app.start(settings)
    async with build_channel(settings, homeroom):   # getMe, commands, inbox recovery, polling
        ...
"""

from bot.channels.telegram.channel import (ALLOWED_UPDATES, CHANNEL, COMMANDS, GROUP_BUTTON, GROUP_TEXT,
                                           InboxRequest, TelegramChannel, build_application, build_channel)
from bot.channels.telegram.ordering import PerChatOrderedProcessor
from bot.channels.telegram.render import escape, keyboard, split_text, telegram_size
from bot.channels.telegram.sender import ChatPacer, SendFailed, TelegramSender

__all__ = ["ALLOWED_UPDATES", "CHANNEL", "COMMANDS", "GROUP_BUTTON", "GROUP_TEXT", "ChatPacer",
           "InboxRequest", "PerChatOrderedProcessor", "SendFailed", "TelegramChannel", "TelegramSender",
           "build_application", "build_channel", "escape", "keyboard", "split_text",
           "telegram_size"]
