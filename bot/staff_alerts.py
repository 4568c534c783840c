"""Who can alert a person at the school, decided once from the settings, so that the bot tells a
family only what really happens ("I'm alerting a staff member" only when an alert goes out).

The engine calls `urgent()` in the transaction that makes a ticket urgent. Slack gets every
ticket through the staff outbox rows the engine writes anyway; email (bot.channels.email) gets an
urgent ticket at once when there is no Slack, and otherwise when nobody claimed it in time.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Protocol


class UrgentMail(Protocol):
    def queue_urgent(self, conn: sqlite3.Connection, ticket_id: int, now: str) -> bool: ...

    def queue_notice(self, conn: sqlite3.Connection, ticket_id: int, text: str, now: str) -> bool: ...

    def queue_follow_up(self, conn: sqlite3.Connection, ticket_id: int, text: str, language: str,
                        english: str | None, now: str) -> bool: ...


@dataclass(frozen=True)
class StaffAlerts:
    slack: bool = False              # Slack staff hand-off is configured (token and [slack])
    email: UrgentMail | None = None  # SMTP and [email] are configured

    @property
    def reaches_someone(self) -> bool:
        """Whether an urgent ticket alerts a person (else the family is told to call)."""
        return self.slack or self.email is not None

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(name for name, on in (("slack", self.slack), ("email", self.email is not None)) if on)

    def tell(self, conn: sqlite3.Connection, ticket_id: int, text: str, now: str) -> bool:
        """A notice about a ticket for staff beyond its Slack thread (email); True if one was queued."""
        return self.email is not None and self.email.queue_notice(conn, ticket_id, text, now)

    def urgent(self, conn: sqlite3.Connection, ticket_id: int, now: str) -> bool:
        """The ticket became urgent (new or raised), in the caller's transaction; True if mailed."""
        return self.email is not None and not self.slack and self.email.queue_urgent(conn, ticket_id, now)

    def follow_up(self, conn: sqlite3.Connection, ticket_id: int, text: str, language: str,
                  english: str | None, now: str) -> bool:
        """The family wrote again on an urgent ticket: without Slack (where the thread shows it),
        the urgent recipients get it by email too. True if a mail was queued."""
        return self.email is not None and not self.slack and \
            self.email.queue_follow_up(conn, ticket_id, text, language, english, now)


def configured_channels(settings, profile) -> tuple[str, ...]:
    """The staff channels these settings and this school profile turn on."""
    slack = bool(settings.slack_bot_token and profile.slack)
    email = bool(settings.smtp and profile.email)
    return tuple(name for name, on in (("slack", slack), ("email", email)) if on)
