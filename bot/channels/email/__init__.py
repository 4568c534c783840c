"""Email for staff (SMTP): urgent tickets at once, a daily digest of tickets nobody answered.
`alerts.py` decides when, `compose.py` what a mail says, `sender.py` sends it from the outbox.
Staff answer with `homeroom tickets reply N` (or in Slack where configured)."""

from bot.channels.email.alerts import EmailAlerts
from bot.channels.email.compose import MailContext
from bot.channels.email.sender import EMAIL_CHANNEL, EmailSender

__all__ = ["EMAIL_CHANNEL", "EmailAlerts", "EmailSender", "MailContext"]
