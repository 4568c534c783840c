"""Staff email, end to end: the real engine and outbox, the real smtplib sender, and a real SMTP
server (aiosmtpd) the test starts on localhost. Urgent tickets are mailed at once without Slack,
escalated when nobody claims them with Slack, the rest go in one digest a day; a down server
or a restart loses nothing and sends nothing twice; with no staff channel nothing is claimed."""

from __future__ import annotations

from functools import partial

import email
import email.policy
import logging
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from bot.app import start
from bot.config import REPO_ROOT, ConfigError, Settings, load_school_profile
from bot.core.engine import URGENT_ALERTED_TEXT
from bot.handoff import Handoff
from bot.storage import outbox, tickets
from bot.translation import FakeTranslator
from support import msg

maria = partial(msg, name="Maria Lopez")  # the family in these tests: her name is on the mail

MONDAY_10AM = datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)    # 10:00 in Los Angeles
EMAIL_TABLE = """
[email]
from = "homeroom@maplegrove.example.org"
to = "office@maplegrove.example.org"
urgent_to = ["principal@maplegrove.example.org", "vp@maplegrove.example.org"]
digest_time = "16:00"
urgent_claim_minutes = 10
[email.topics]
transportation = "buses@maplegrove.example.org"
"""
SLACK_TABLE = '\n[slack]\ndefault_channel = "C0TRIAGE"\n'


@dataclass
class Inbox:
    """What the SMTP server received, parsed."""

    mails: list[tuple[list[str], email.message.EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.mails.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def bodies(self) -> list[str]:
        return [m.get_body(("plain",)).get_content() for _, m in self.mails]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An aiosmtpd server on a fixed local port that can go down and come back."""

    def __init__(self, inbox: Inbox, port: int) -> None:
        self.inbox, self.port, self._controller = inbox, port, None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp():
    inbox = Inbox()
    server = Server(inbox, _free_port())
    server.start()
    yield inbox, server, server.port
    server.stop()


def school(tmp_path: Path, *tables: str) -> Path:
    path = tmp_path / "school.toml"
    path.write_text((REPO_ROOT / "sample_school" / "school.toml").read_text(encoding="utf-8") + "".join(tables),
                    encoding="utf-8")
    return path


def email_settings(tmp_path: Path, port: int, *tables: str, **env: str) -> Settings:
    return Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "data"),
                              "HOMEROOM_SCHOOL_PROFILE": str(school(tmp_path, EMAIL_TABLE, *tables)),
                              "HOMEROOM_SMTP_HOST": "127.0.0.1", "HOMEROOM_SMTP_PORT": str(port),
                              "HOMEROOM_SMTP_SECURITY": "none", **env})


def said(app, msgid: str, lang: str) -> str:
    """The start of a bot sentence as a family in `lang` reads it (curated, else machine)."""
    curated = app.engine.localizer.locales.lookup(lang, msgid)
    return (curated or f"[{lang}] {msgid}")[:25]


async def started(settings: Settings, now: datetime = MONDAY_10AM):
    app = await start(settings, translator=FakeTranslator(languages=["en", "es"]))
    app.engine.clock = app.delivery.clock = lambda: now
    if app.alerts.email is not None:
        app.alerts.email.clock = lambda: now
    return app


async def spanish_family(app) -> None:
    await app.engine.handle(maria("/language"))
    await app.engine.handle(maria(payload="lang:es"))


async def test_an_urgent_report_without_slack_is_emailed_at_once_in_both_languages(tmp_path, smtp):
    inbox, _, port = smtp
    app = await started(email_settings(tmp_path, port))
    try:
        await spanish_family(app)
        replies = await app.engine.handle(maria("hay un hombre con una pistola en el estacionamiento de la escuela"))
        text = " ".join(r.text for r in replies)
        assert "911" in text and said(app, URGENT_ALERTED_TEXT, "es") in text  # true: a mail is queued
        [ticket] = await app.db.run(tickets.list_open)
        assert ticket.priority == "urgent"
        await app.delivery.run_once()
        [(rcpt, mail)] = inbox.mails
        assert rcpt == ["principal@maplegrove.example.org", "vp@maplegrove.example.org"]
        assert str(mail["Subject"]).strip().startswith(f"URGENT: ticket #{ticket.id} (safety)")
        assert mail["From"] == "homeroom@maplegrove.example.org" and mail["Message-ID"]
        body = inbox.bodies()[0]
        assert "hay un hombre con una pistola en el estacionamiento" in body       # the original
        assert "[en] hay un hombre con una pistola" in body                        # and in English
        assert "Family: Maria Lopez" in body and "Spanish (es)" in body
        assert f'homeroom tickets reply {ticket.id} "your words"' in body
        assert "in Slack" not in body                                               # no Slack here
        events = [e[0] for e in await app.db.run(tickets.events, ticket.id)]
        assert "alert" in events and "emailed" in events                            # sent, then said so
        await app.delivery.run_once()
        await app.alerts.email.check_once()
        assert len(inbox.mails) == 1                                                # never twice
    finally:
        await app.close()


async def test_what_the_family_adds_to_an_urgent_report_is_emailed_too(tmp_path, smtp):
    """Without Slack, staff acting on the urgent mail get each later message of that ticket by
    mail, in the parent's words and in English; the first mail is not sent twice."""
    inbox, _, port = smtp
    app = await started(email_settings(tmp_path, port))
    try:
        await spanish_family(app)
        await app.engine.handle(maria("hay un hombre con una pistola en el estacionamiento de la escuela"))
        [ticket] = await app.db.run(tickets.list_open)
        await app.engine.handle(maria("ahora se fue hacia el gimnasio"))
        for _ in range(3):  # one row of a target per round, in order
            await app.delivery.run_once()
        assert len(inbox.mails) == 2
        first, later = (str(m["Subject"]).strip() for _, m in inbox.mails)
        assert first.startswith(f"URGENT: ticket #{ticket.id}")
        assert later.startswith(f"URGENT ticket #{ticket.id} (safety): the family wrote again")
        body = inbox.bodies()[1]
        assert "ahora se fue hacia el gimnasio" in body and "[en] ahora se fue hacia el gimnasio" in body
        assert "hay un hombre con una pistola" not in body  # only what is new
        await app.delivery.run_once()
        assert len(inbox.mails) == 2
    finally:
        await app.close()


async def test_a_later_message_on_an_ordinary_ticket_is_not_emailed(tmp_path, smtp):
    inbox, _, port = smtp
    app = await started(email_settings(tmp_path, port))
    try:
        await app.engine.handle(maria("/human"))
        await app.engine.handle(maria("my question is about the field trip form"))
        await app.delivery.run_once()
        assert not [m for _, m in inbox.mails if "wrote again" in str(m["Subject"])]
    finally:
        await app.close()


async def test_a_down_smtp_server_delays_the_alert_and_a_restart_loses_nothing(tmp_path, smtp):
    inbox, server, port = smtp
    server.stop()
    settings = email_settings(tmp_path, port)
    app = await started(settings)
    try:
        await app.engine.handle(maria("someone is threatening kids with a knife at the school gate"))
        assert await app.delivery.run_once() == 0
        [row] = await app.db.run(lambda c: c.execute(
            "SELECT status, attempts, last_error FROM outbox WHERE channel = 'email'").fetchall())
        assert row[0] == "pending" and row[1] == 1 and "SMTP server 127.0.0.1" in row[2]
        [ticket] = await app.db.run(tickets.list_open)
        assert "emailed" not in [e[0] for e in await app.db.run(tickets.events, ticket.id)]  # not claimed
    finally:
        await app.close()  # the bot stops with the mail still waiting

    server.start()
    later = MONDAY_10AM + timedelta(minutes=5)
    app = await started(settings, now=later)
    try:
        assert await app.delivery.run_once() == 1
        assert len(inbox.mails) == 1 and "knife" in inbox.bodies()[0]
        assert await app.delivery.run_once() == 0 and len(inbox.mails) == 1
    finally:
        await app.close()


async def test_with_slack_an_urgent_ticket_is_emailed_only_when_nobody_claims_it(tmp_path, smtp):
    inbox, _, port = smtp
    settings = email_settings(tmp_path, port, SLACK_TABLE, SLACK_BOT_TOKEN="xoxb-test")
    app = await started(settings)
    try:
        assert app.alerts.channels == ("slack", "email")
        replies = await app.engine.handle(maria("my son is being bullied every day and they hit him"))
        assert "alerting a staff member" in " ".join(r.text for r in replies)
        await app.engine.handle(maria("a man with a gun is outside the school", user="p2"))
        first, second = sorted(t.id for t in await app.db.run(tickets.list_open))
        await app.delivery.run_once()
        assert inbox.mails == []                           # Slack has them; no email yet
        handoff = Handoff(app.db, app.engine.localizer, app.profile, clock=lambda: MONDAY_10AM)
        await handoff.claim(first, "U0PRINCIPAL")
        app.alerts.email.clock = lambda: MONDAY_10AM + timedelta(minutes=9)
        assert await app.alerts.email.escalate_once() == 0
        app.alerts.email.clock = lambda: MONDAY_10AM + timedelta(minutes=11)
        assert await app.alerts.email.escalate_once() == 1  # only the unclaimed one
        assert await app.alerts.email.escalate_once() == 0
        app.delivery.clock = app.alerts.email.clock
        await app.delivery.run_once()
        [(_, mail)] = inbox.mails
        assert str(mail["Subject"]).strip().startswith(f"URGENT: ticket #{second} ")
        assert "in Slack: reply in the ticket's thread" in inbox.bodies()[0]
    finally:
        await app.close()


async def test_the_daily_digest_lists_unanswered_tickets_once_by_topic_address(tmp_path, smtp):
    inbox, _, port = smtp
    app = await started(email_settings(tmp_path, port))
    try:
        await app.engine.handle(maria("my son needs a special education evaluation for an IEP, how do we start"))
        await app.engine.handle(maria("/human", user="p2"))
        await app.engine.handle(maria("/human", user="p3"))
        ids = sorted(t.id for t in await app.db.run(tickets.list_open))
        await app.db.transact(lambda c: c.execute("UPDATE tickets SET topic = 'transportation' WHERE id = ?",
                                                  (ids[1],)))
        handoff = Handoff(app.db, app.engine.localizer, app.profile, clock=lambda: MONDAY_10AM)
        await handoff.reply(ids[2], "sam", "Hello, how can we help?")  # answered: not in the digest
        alerts = app.alerts.email
        alerts.clock = lambda: MONDAY_10AM + timedelta(hours=5)        # 15:00 school time
        assert await alerts.digest_once() == 0
        alerts.clock = lambda: MONDAY_10AM + timedelta(hours=6, minutes=1)  # 16:01
        assert await alerts.digest_once() == 2                          # office, and the bus address
        assert await alerts.digest_once() == 0                          # once a day
        app.delivery.clock = alerts.clock
        await app.delivery.run_once()
        by_rcpt = {tuple(r): m for r, m in inbox.mails}
        assert set(by_rcpt) == {("office@maplegrove.example.org",), ("buses@maplegrove.example.org",)}
        office = by_rcpt[("office@maplegrove.example.org",)]
        assert "1 ticket waiting for a reply" in str(office["Subject"])
        body = office.get_body(("plain",)).get_content()
        assert f"Ticket #{ids[0]}" in body and f"Ticket #{ids[2]}" not in body
        assert "special education evaluation" in body
    finally:
        await app.close()


async def test_a_human_command_shows_the_parents_real_words_to_staff(tmp_path, smtp):
    _, _, port = smtp
    app = await started(email_settings(tmp_path, port))
    try:
        await app.engine.handle(maria("the bus did not come this morning and my daughter missed school"))
        await app.engine.handle(maria("/human"))
        [ticket] = await app.db.run(tickets.list_open)
        parent = [e for e in await app.db.run(tickets.events, ticket.id) if e[0] == "parent"]
        assert parent[0][2].startswith("the bus did not come this morning")  # not "/human"
    finally:
        await app.close()


async def test_no_staff_channel_claims_no_alert_and_startup_warns(settings, caplog):
    caplog.set_level(logging.WARNING)
    app = await start(settings)
    try:
        assert not app.alerts.reaches_someone
        assert any("staff.no_channel" in r.getMessage() for r in caplog.records)
        app.engine.clock = lambda: datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc)  # Tue 9 AM: office open
        replies = await app.engine.handle(maria("there is a man with a gun at the school"))
        text = " ".join(r.text for r in replies)
        assert "alerting" not in text and "This chat cannot alert the school staff right away" in text
        assert "(951) 555-0142" in text and "911" in text
        rows = await app.db.run(lambda c: c.execute("SELECT channel FROM outbox WHERE channel = 'email'").fetchall())
        assert rows == []
    finally:
        await app.close()


def test_email_settings_are_checked_with_clear_messages(tmp_path):
    with pytest.raises(ConfigError, match=r"\[email\] from is required"):
        load_school_profile(school(tmp_path, '\n[email]\nto = "office@school.example.org"\n'))
    with pytest.raises(ConfigError, match=r"\[email\] to = 'office': write an email address"):
        load_school_profile(school(tmp_path, '\n[email]\nfrom = "a@b.org"\nto = "office"\n'))
    with pytest.raises(ConfigError, match="HOMEROOM_SMTP_USER and HOMEROOM_SMTP_PASSWORD go together"):
        Settings.from_env({"HOMEROOM_SMTP_HOST": "smtp.example.org", "HOMEROOM_SMTP_USER": "bot"})
    with pytest.raises(ConfigError, match="HOMEROOM_SMTP_SECURITY='ssl'"):
        Settings.from_env({"HOMEROOM_SMTP_HOST": "smtp.example.org", "HOMEROOM_SMTP_SECURITY": "ssl"})
    smtp = Settings.from_env({"HOMEROOM_SMTP_HOST": "smtp.example.org", "HOMEROOM_SMTP_USER": "bot",
                              "HOMEROOM_SMTP_PASSWORD": "s3cret"})
    assert (smtp.smtp.port, smtp.smtp.security) == (587, "starttls")
    assert "s3cret" not in repr(smtp) and "s3cret" in smtp.secrets()
    profile = load_school_profile(school(tmp_path, EMAIL_TABLE))
    assert profile.email.digest_recipients("transportation") == ("buses@maplegrove.example.org",)
    assert profile.email.digest_recipients("attendance") == ("office@maplegrove.example.org",)


async def _forget(app, user="p1"):
    [ask] = await app.engine.handle(maria("/forgetme", user=user))
    yes = next(c.payload for c in ask.choices if c.payload.startswith("forgetme:yes:"))
    return await app.engine.handle(maria(payload=yes, user=user))


async def test_forgetme_keeps_an_open_urgent_report_until_staff_close_it_and_tells_them(tmp_path, smtp):
    from bot.flows.privacy import URGENT_KEPT_TOLD
    from bot.storage import kept_reports

    inbox, _, port = smtp
    app = await started(email_settings(tmp_path, port))
    try:
        await app.engine.handle(maria("a boy in his class keeps hitting my son and calling him names"))
        await app.engine.handle(maria("he also took his phone today"))
        [ticket] = await app.db.run(tickets.list_open)
        done = " ".join(r.text for r in await _forget(app))
        assert "urgent report you made on Nov 23, 2026 is kept" in done and URGENT_KEPT_TOLD in done
        [kept] = await app.db.run(kept_reports.list_all)
        assert kept.ticket_id == ticket.id and "keeps hitting my son" in kept.text and "took his phone" in kept.text
        counts = await app.db.run(lambda c: [c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                                             for t in ("families", "messages", "tickets", "ticket_events")])
        assert counts == [0, 0, 0, 0]  # everything else is gone: no chat, no name
        audit = await app.db.run(lambda c: [r[0] for r in c.execute("SELECT action FROM audit_log")])
        assert "urgent_report.kept" in audit and "family.deleted" in audit
        await app.delivery.run_once()
        subjects = [str(m["Subject"]).strip() for _, m in inbox.mails]
        assert subjects[0].startswith(f"URGENT: ticket #{ticket.id}")
        assert subjects[1] == f"Homeroom: ticket #{ticket.id}: the family deleted their data"
        assert f"homeroom tickets resolve {ticket.id}" in inbox.bodies()[1]
        handoff = Handoff(app.db, app.engine.localizer, app.profile)
        await handoff.close_kept(ticket.id, "principal")
        assert await app.db.run(kept_reports.list_all) == []
        audit = await app.db.run(lambda c: [r[0] for r in c.execute("SELECT action FROM audit_log")])
        assert "urgent_report.closed" in audit
    finally:
        await app.close()


async def test_forgetme_without_any_staff_channel_does_not_claim_staff_were_told(settings):
    from bot.flows.privacy import TICKET_CLOSED, URGENT_KEPT_TOLD

    app = await start(settings)
    try:
        await app.engine.handle(maria("there is a man with a gun at the school"))
        done = " ".join(r.text for r in await _forget(app))
        assert "is kept until the school staff close it" in done
        assert URGENT_KEPT_TOLD not in done and "No staff member could be told automatically" in done
        await app.engine.handle(maria("/human", user="p2"))
        done = " ".join(r.text for r in await _forget(app, user="p2"))
        assert TICKET_CLOSED not in done and "Your open conversation with the school staff was closed." in done
    finally:
        await app.close()
