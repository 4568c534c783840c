"""Telling the attendance office about a reported absence, through the outbox, in the same
transaction that records it — so a report is never recorded without its notice, or told twice.

- Slack (when a bot token and [slack] are set): an `absence_notice` row for channel "staff",
  target "absences"; the Slack sender posts it to `[slack.channels] attendance`, else the
  default channel.
- Email (when SMTP and [email] are set): an `email` row to `[email.topics] attendance`, else
  `[email] to`; the email sender sends it like any staff mail.

With neither, nothing is queued and the family is told the clerk sees it in the export
(`homeroom absences export`), never that someone was alerted. Text here is English (staff read it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

from bot.config import EmailProfile
from bot.outbox_messages import AbsenceNotice, Email
from bot.storage import outbox

STAFF_CHANNEL, TARGET = "staff", "absences"
EMAIL_CHANNEL = "email"  # as bot.channels.email.sender (not imported: that pulls in smtplib)
TOPIC = "attendance"
REASON_WORDS = {"sick": "sick", "appointment": "appointment", "family": "family reasons", "other": "other"}


@dataclass(frozen=True)
class Office:
    """Which staff channels an absence reaches, decided once from the settings."""

    slack: bool = False
    email: EmailProfile | None = None  # set only when SMTP is configured too
    school: str = "the school"

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(name for name, on in (("slack", self.slack), ("email", self.email is not None)) if on)


def days_text(days: list[date] | tuple[date, ...]) -> str:
    return ", ".join(f"{d:%a %b} {d.day}" for d in sorted(days))


def text(child: str, guardian: str, language: str, days, reason: str, note: str, reported_at: str) -> str:
    lines = [f"Absence reported: {child}", f"Days: {days_text(days)}", f"Reason: {REASON_WORDS.get(reason, reason)}"]
    if note:
        lines.append(f"Note from the family: {note}")
    lines.append(f"Reported by {guardian or 'a family'} [{language}] in the Homeroom chat at {reported_at[:16]} UTC")
    return "\n".join(lines)


def queue(conn: sqlite3.Connection, office: Office, absence_id: int, family_id: int, body: str, now: str) -> int:
    """Queue the notice on every configured channel; how many rows were written."""
    written = 0
    if office.slack:
        outbox.add(conn, STAFF_CHANNEL, TARGET, AbsenceNotice(body, absence_id, family_id), now)
        written += 1
    if office.email is not None:
        to = office.email.topics.get(TOPIC) or office.email.to
        subject = f"Homeroom: {body.partition(chr(10))[0]}"
        mail = Email(tuple(to), subject, "\n".join([body, "", f"Sent by Homeroom for {office.school}."]),
                     what="absence")
        # the target names the family, so /forgetme finds the mail (bot.privacy.family_data)
        outbox.add(conn, EMAIL_CHANNEL, f"absence:{family_id}:{absence_id}", mail, now)
        written += 1
    return written
