"""Sends the outbox's staff emails over SMTP (the standard library's smtplib, in a worker thread:
one short session per mail, nothing to keep alive). A mail is marked sent only after the server
accepted it; each carries a Message-ID made from its outbox row, so if the bot dies between the
server's "OK" and marking the row, the one resend has the same id (mail systems drop it)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from bot.config import SmtpSettings
from bot.delivery import RetryLater
from bot.outbox_messages import Email, Unreadable
from bot.storage import Database, outbox, tickets

log = logging.getLogger("bot.email")

EMAIL_CHANNEL = "email"


class MailRefused(Exception):
    """The server refused the mail for good (5xx): the row is retried with backoff, then given
    up, and `homeroom status` turns red; the error names what to fix."""


class EmailSender:
    def __init__(self, smtp: SmtpSettings, sender: str, db: Database) -> None:
        self.smtp, self.sender, self.db = smtp, sender, db
        self.sent = 0

    def message(self, item: outbox.Item) -> EmailMessage:
        p = _email(item)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(p.to)
        mail["Subject"] = p.subject
        mail["Date"] = formatdate(localtime=False)
        domain = self.sender.rpartition("@")[2] or "homeroom.invalid"
        mail["Message-ID"] = f"<homeroom.outbox.{item.id}.{item.target.replace(':', '.')}@{domain}>"
        if p.urgent:
            mail["X-Priority"] = "1"
            mail["Importance"] = "high"
        mail.set_content(p.body)
        return mail

    async def __call__(self, item: outbox.Item) -> None:
        mail = self.message(item)
        await asyncio.to_thread(self._send, mail)
        self.sent += 1
        p = _email(item)
        ids = [int(i) for i in p.tickets]
        to = ", ".join(p.to)

        def record(conn, now):  # the timeline says "emailed" only now that the server took it
            for ticket_id in ids:
                if tickets.get(conn, ticket_id) is not None:
                    tickets.add_event(conn, ticket_id, "emailed", "homeroom", f"{p.what} email sent to {to}", now)
        await self.db.transact(record, _now())
        log.info("email.sent id=%s what=%s tickets=%s", item.id, p.what, ",".join(map(str, ids)))

    def _send(self, mail: EmailMessage) -> None:
        s = self.smtp
        try:
            if s.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.user:
                    client.login(s.user, s.password or "")
                client.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailRefused(f"the SMTP server refused HOMEROOM_SMTP_USER/PASSWORD ({exc.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailRefused(f"the SMTP server refused the recipients {sorted(exc.recipients)}: check [email] in "
                              "the school profile") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise RetryLater(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
            raise MailRefused(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
        except (OSError, smtplib.SMTPException) as exc:  # down, unreachable, TLS, disconnected
            raise RetryLater(f"SMTP server {s.host}:{s.port}: {exc.__class__.__name__}: {exc}") from None


def _email(item: outbox.Item) -> Email:
    """The row's mail. Anything else is an error (retried, then given up, and `homeroom status`
    turns red), as a row without an address always was."""
    if not isinstance(item.message, Email):
        why = item.message.error if isinstance(item.message, Unreadable) else f"a {item.kind} row is no email"
        raise MailRefused(f"outbox #{item.id} cannot be sent by email: {why}")
    return item.message


def _now() -> str:
    from bot.core.messages import utcnow

    return utcnow().isoformat()
