"""`/privacy`, `/mydata`, `/forgetme`: a family learns what the school keeps, sees it, deletes it.

- `/privacy`: what is collected, why, for how long (the school's own `[retention]` numbers),
  who sees it, that nothing goes to anyone else, and the two commands below.
- `/mydata`: a short summary in the family's language, with the whole export
  (`bot.privacy.family_data.export_family`) attached as `my-data.json`.
- `/forgetme`: asks first (Yes / No buttons). Yes deletes everything in the turn's own
  transaction (a `turn.effect`; the turn is marked `family_deleted`, so the engine saves no
  state and forgets its cached copy: the next message starts as a new family), then a WAL
  checkpoint once it committed (`turn.after_commit`), so the words are gone from the files at
  once, not at the next daily purge. The Yes button
  carries a one-time token kept in the conversation state, so a stale one (tapped again after
  the deletion, when the sender is already a new family, whose number SQLite may even reuse)
  deletes nothing and says so.

Like every flow, these run also while a ticket is open (commands and flow buttons come first).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any, Callable


from bot import dates
from bot.core import payloads
from bot.core.payloads import Payload
from bot.config import SchoolProfile
from bot.core.dialog import Turn
from bot.core.localize import Text
from bot.core.messages import Attachment
from bot.i18n import N_
from bot.privacy.family_data import FamilyNotFound, delete_family, export_family, open_tickets
from bot.privacy.retention import checkpoint
from bot.signups import store
from bot.staff_alerts import StaffAlerts
from bot.storage import Database
from bot.understanding.language import language_name

MENU = N_("Main menu")
MYDATA_BUTTON = N_("See my data")
FORGET_BUTTON = N_("Delete my data")

POLICY = N_(
    "How {school_name} handles what you write here:\n\n"
    "• What we keep: your messages and our answers, your language, your conversations with school "
    "staff, and your volunteer and conference sign-ups.\n"
    "• Why: to answer your questions, to pass them to the right person at the school, and to run "
    "sign-ups.\n"
    "• For how long: messages {messages_days} days; conversations with staff {tickets_days} days after "
    "they are closed; sign-ups {signups_days} days after the event. Then they are deleted.\n"
    "• Who sees it: only {school_name} staff, in the school's own Slack and tools.\n"
    "• Nothing is sold or given to anyone else, and translation happens on the school's own computer.\n\n"
    "To see what we keep about you, send /mydata. To delete it, send /forgetme.")

# the same, for a school without Slack (staff work from `homeroom tickets`)
POLICY_NO_SLACK = N_(
    "How {school_name} handles what you write here:\n\n"
    "• What we keep: your messages and our answers, your language, your conversations with school "
    "staff, and your volunteer and conference sign-ups.\n"
    "• Why: to answer your questions, to pass them to the right person at the school, and to run "
    "sign-ups.\n"
    "• For how long: messages {messages_days} days; conversations with staff {tickets_days} days after "
    "they are closed; sign-ups {signups_days} days after the event. Then they are deleted.\n"
    "• Who sees it: only {school_name} staff, in the school's own tools.\n"
    "• Nothing is sold or given to anyone else, and translation happens on the school's own computer.\n\n"
    "To see what we keep about you, send /mydata. To delete it, send /forgetme.")

SUMMARY = N_(
    "Here is what {school_name} keeps about you:\n"
    "• Language: {language}\n"
    "• Messages: {messages}, the oldest from {since}\n"
    "• Conversations with staff: {tickets}\n"
    "• Sign-ups: {signups}\n\n"
    "Everything is in the attached file, my-data.json. To delete it, send /forgetme.")
SUMMARY_NO_MESSAGES = N_(
    "Here is what {school_name} keeps about you:\n"
    "• Language: {language}\n"
    "• Messages: none\n"
    "• Conversations with staff: {tickets}\n"
    "• Sign-ups: {signups}\n\n"
    "Everything is in the attached file, my-data.json. To delete it, send /forgetme.")

ASK = N_("Delete everything {school_name} keeps about you? Your messages, your conversations with staff "
         "and your sign-ups will be removed (your places go to the next family). This cannot be undone.")
YES = N_("Yes, delete everything")
NO = N_("No, keep my data")
KEPT = N_("OK, nothing was deleted.")
DONE = N_("Done: everything {school_name} kept about you is deleted. If you write again, I will start fresh.")
SIGNUPS_CANCELLED = N_("Your sign-ups were cancelled ({count}) and your places offered to other families.")
TICKET_CLOSED = N_("Your open conversation with the school staff was closed, and they were told.")
TICKET_CLOSED_UNTOLD = N_("Your open conversation with the school staff was closed.")
URGENT_KEPT = N_("The urgent report you made on {date} is kept until the school staff close it: only what you "
                 "reported and when, not this chat. The school must be able to act on it.")
URGENT_KEPT_TOLD = N_("The school staff were told that you deleted your data.")
URGENT_KEPT_UNTOLD = N_("No staff member could be told automatically. To add anything, call the office at "
                        "{office_phone}.")
# the exception in the policy, said after it
URGENT_POLICY = N_("One exception: if you delete your data while an urgent report (a safety or bullying "
                   "concern) is still open, the school keeps only what you reported and when, not the chat, "
                   "until staff close it, because it must be able to act on it.")
STALE = N_("That button has expired, and nothing was deleted. To delete your data, send /forgetme.")

FILENAME = "my-data.json"


def privacy_flows(db: Database, profile: SchoolProfile, notifier=None,
                  wake: Callable[[], None] | None = None, alerts: StaffAlerts | None = None) -> dict[str, Any]:
    """The three flows by name, for `Engine(flows=...)`. `notifier`: the sign-ups' Notifier (a
    family promoted from a waitlist by a deletion is told); `wake`: outbox rows are waiting."""
    return {flow.name: flow for flow in (PrivacyFlow(profile), MyDataFlow(db, profile),
                                         ForgetMeFlow(db, profile, notifier, wake, alerts))}


class _OneAnswer:
    """A flow that is one answer: typed text is a new question; its button (`<name>:show`,
    e.g. on another answer) shows it again."""

    name = ""

    async def start(self, turn: Turn, arg: str | None = None) -> None:
        raise NotImplementedError

    async def on_text(self, turn: Turn, text: str) -> bool:
        return False

    async def on_payload(self, turn: Turn, payload: Payload) -> bool:
        if payload.action == "show":
            await self.start(turn)
            return True
        return False


class PrivacyFlow(_OneAnswer):
    name = "privacy"

    def __init__(self, profile: SchoolProfile) -> None:
        self.profile = profile

    async def start(self, turn: Turn, arg: str | None = None) -> None:
        r = self.profile.retention
        values = {"school_name": self.profile.name, "messages_days": r.messages_days,
                  "tickets_days": r.tickets_days, "signups_days": r.signups_days}
        turn.say(Text(POLICY if self.profile.slack is not None else POLICY_NO_SLACK, values))
        turn.say(URGENT_POLICY, [(MYDATA_BUTTON, Payload("mydata", "show")), (FORGET_BUTTON, Payload("forgetme", "ask")), (MENU, payloads.MENU)])


class MyDataFlow(_OneAnswer):
    name = "mydata"

    def __init__(self, db: Database, profile: SchoolProfile) -> None:
        self.db, self.profile = db, profile

    async def start(self, turn: Turn, arg: str | None = None) -> None:
        try:
            data = await self.db.run(export_family, turn.family.id)
        except FamilyNotFound:  # a brand-new family is stored before its first turn; be safe anyway
            data = {"family": None, "language": turn.lang, "conversation": None, "messages": [], "tickets": [],
                    "signups": []}
        document = {"school": self.profile.name, "exported_at": store.iso(turn.now), **data}
        content = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        values = {"school_name": self.profile.name, "language": language_name(turn.lang),
                  "messages": len(data["messages"]), "tickets": len(data["tickets"]),
                  "signups": len(data["signups"])}
        if data["messages"]:
            values["since"] = _date(data["messages"][0]["created_at"], turn.lang, self.profile)
        turn.say(Text(SUMMARY if data["messages"] else SUMMARY_NO_MESSAGES, values),
                 [(FORGET_BUTTON, Payload("forgetme", "ask")), (MENU, payloads.MENU)],
                 attachment=Attachment(FILENAME, content, "application/json"))


class ForgetMeFlow:
    name = "forgetme"

    def __init__(self, db: Database, profile: SchoolProfile, notifier=None,
                 wake: Callable[[], None] | None = None, alerts: StaffAlerts | None = None) -> None:
        self.db, self.profile, self.notifier, self.wake = db, profile, notifier, wake
        self.alerts = alerts or StaffAlerts()  # who hears that a kept urgent report's family left

    async def start(self, turn: Turn, arg: str | None = None) -> None:
        token = turn.state.space(self.name)["token"] = secrets.token_hex(4)
        turn.say(Text(ASK, {"school_name": self.profile.name}),
                 [(YES, Payload("forgetme", "yes", token)), (NO, Payload("forgetme", "no"))])

    async def on_text(self, turn: Turn, text: str) -> bool:
        return False  # the question is answered with its buttons; typed text is a new question

    async def on_payload(self, turn: Turn, payload: Payload) -> bool:
        action, value = payload.action, payload.value
        if action == "ask":
            await self.start(turn)
        elif action == "no":
            turn.state.drop(self.name)
            turn.say(KEPT, [(MENU, payloads.MENU)])
        elif action == "yes":
            if not value or value != turn.state.peek(self.name).get("token"):
                turn.say(STALE, [(MENU, payloads.MENU)])
                return True
            await self._delete(turn)
        else:
            return False
        return True

    async def _delete(self, turn: Turn) -> None:
        family_id, now = turn.family.id, store.iso(turn.now)

        def what_changes(conn):
            signups = len(store.family_items(conn, family_id, now))
            tickets = open_tickets(conn, family_id)
            urgent = conn.execute("SELECT MIN(created_at) FROM tickets WHERE family_id = ? AND status != 'resolved'"
                                  " AND priority = 'urgent'", (family_id,)).fetchone()[0]
            return signups, tickets, urgent

        signups, tickets, urgent_since = await self.db.run(what_changes)
        notifier, alerts = self.notifier, self.alerts
        turn.effect(lambda conn, stamp: delete_family(conn, family_id, "family", stamp, notifier, alerts.tell))
        turn.family_deleted = True
        # secure_delete zeroed the pages; the checkpoint also clears the old WAL frames that still
        # hold what the family wrote (else they stay until the daily purge's checkpoint)
        turn.after_commit.append(lambda: self.db.run(checkpoint))
        turn.state.flow, turn.state.step, turn.state.data = None, None, {}
        turn.decision = "family_deleted"
        turn.say(Text(DONE, {"school_name": self.profile.name}))
        if signups:
            turn.say(Text(SIGNUPS_CANCELLED, {"count": signups}))
        # what staff hear is decided now, as delete_family will do it: Slack threads, email
        told = alerts.email is not None or any(ref for _, _, ref in tickets)
        if urgent_since:
            turn.say(Text(URGENT_KEPT, {"date": _date(urgent_since, turn.lang, self.profile)}))
            turn.say(URGENT_KEPT_TOLD if told else Text(URGENT_KEPT_UNTOLD, self.profile.info))
        elif tickets:
            turn.say(TICKET_CLOSED if any(ref for _, _, ref in tickets) else TICKET_CLOSED_UNTOLD)
        if self.wake is not None and (signups or tickets):
            self.wake()  # a promoted family's message and staff's note wait in the outbox


def _date(stored: str, lang: str, profile: SchoolProfile) -> str:
    """'Mar 5, 2026' in the family's language, in the school's time zone."""
    return dates.long_date(datetime.fromisoformat(stored).astimezone(profile.tz), lang)
