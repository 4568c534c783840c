"""The Slack channel for staff (slack-bolt AsyncApp): a thin adapter over `bot.handoff.Handoff`
(staff operations) and `bot.delivery.Delivery` (the outbox). See `app.py` for how it runs,
`listeners.py` for what Slack events do, `sender.py` for what reaches Slack and `blocks.py` for
how it looks.

    homeroom = await bot.app.start(settings)
    exit_code = await serve_slack(settings, homeroom, stop)   # `homeroom run`: bot.runner
"""

from bot.channels.slack.app import (EVENTS_PATH, SlackStaff, TicketClock, build_app, build_client,
                                    serve_slack)
from bot.channels.slack.blocks import escape, slack_to_plain
from bot.channels.slack.listeners import StaffDirectory, register
from bot.channels.slack.sender import SlackSender

__all__ = ["EVENTS_PATH", "SlackSender", "SlackStaff", "StaffDirectory", "TicketClock", "build_app", "build_client",
           "escape", "register", "serve_slack", "slack_to_plain"]
