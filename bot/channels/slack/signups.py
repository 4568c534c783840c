"""`/homeroom signups` for staff in Slack: `signups` (list with fill), `signups who ID` (the
people on an opportunity or a teacher's conferences) and `signups export [ID]` (a CSV file
uploaded to the channel the command came from). The content comes from `bot.signups.staff`;
this module only checks who asks, audits, and talks to Slack.

- **Who may ask.** As for `/homeroom tickets`: the `[slack] staff` list or members of a triage
  channel — and members of the signups channel (the volunteer coordinator may sit only there).
- **Audit.** `who` (names) is recorded as a view and `export` as an export, before any name
  leaves the store.
- **Where a file may go.** The CSV holds families' names and languages: it is uploaded only to a
  triage channel, the signups channel, or a direct message with the app — anywhere else the
  asker is told where to run it instead.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.channels.slack import blocks
from bot.signups import staff as signups
from bot.storage import audit

log = logging.getLogger("bot.slack")

USAGE = ("Usage: `/homeroom signups` (what is offered, how full), `/homeroom signups who ID` (who signed up "
         "for an opportunity or a teacher), `/homeroom signups export [ID]` (a CSV file, here)")
REFUSED = "Only school staff can see sign-ups. Ask your school's Homeroom admin to add you to a triage channel."


async def command(staff, command: dict[str, Any], rest: str, respond) -> None:
    """Answer `/homeroom signups …` (already acknowledged). `staff`: listeners.Staffing."""
    from bot.channels.slack.listeners import UNAVAILABLE, DirectoryUnavailable

    user, channel = command.get("user_id", ""), command.get("channel_id", "")
    action, _, arg = rest.strip().partition(" ")
    action, arg = action.lower() or "list", arg.strip()
    if action not in ("list", "who", "export") or (action == "who" and not arg):
        await respond(text=USAGE, response_type="ephemeral")
        return
    try:
        allowed = await staff.directory.allowed(user) or await staff.directory.allowed(user, _channel(staff))
    except DirectoryUnavailable:
        await respond(text=blocks.notice(UNAVAILABLE), response_type="ephemeral")
        return
    if not allowed:
        log.info("slack.refused user=%s kind=signups_%s", user, action)
        await respond(text=blocks.notice(REFUSED), response_type="ephemeral")
        return
    db, tz, now = staff.db, staff.profile.tz, staff.clock().isoformat()
    if action == "list":
        text = await db.run(signups.list_text)
        await _answer(respond, "Sign-ups", text)
        return
    if action == "who":
        found = await db.run(signups.who, arg)
        if not found:
            await respond(text=_unknown(arg), response_type="ephemeral")
            return
        await db.transact(audit.record, user, "view", f"signups who {arg}", now)
        await _answer(respond, f"Who signed up: {arg}", signups.who_text(found, tz))
        return
    # export
    if not _may_receive_file(staff, channel):
        await respond(text=blocks.notice(
            f"The export holds families' names, so it is only posted in <#{_channel(staff)}>, a triage channel "
            "or your direct messages with Homeroom. Run the command there."), response_type="ephemeral")
        return
    scope = arg or None
    if scope is not None and not await db.run(signups.who, scope):
        await respond(text=_unknown(scope), response_type="ephemeral")
        return
    content = await db.run(signups.export_csv, scope, tz)
    rows = content.count(b"\n") - 1
    await db.transact(audit.record, user, "export", f"signups export {scope or 'all'} to {channel}", now)
    day = staff.clock().astimezone(tz).date().isoformat()
    filename = f"signups-{scope or 'all'}-{day}.csv"
    try:
        await staff.client.files_upload_v2(
            channel=channel, filename=filename, content=content, title=f"Sign-ups: {scope or 'all'} ({day})",
            initial_comment=f"<@{user}> exported {rows} sign-up{'s' if rows != 1 else ''}.")
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("slack.export_failed error=%s", error)
        await respond(text=blocks.notice(f"The file could not be posted here ({error}). Invite the Homeroom app to "
                                         "this channel, or run the command in a direct message with it."),
                      response_type="ephemeral")
        return
    log.info("slack.signups_export user=%s scope=%s rows=%d", user, scope or "all", rows)


def _channel(staff) -> str:
    return staff.slack.signups_channel or staff.slack.default_channel


def _may_receive_file(staff, channel: str) -> bool:
    return channel.startswith("D") or channel == _channel(staff) or channel in staff.slack.triage_channels


def _unknown(scope: str) -> str:
    return (f"No opportunity or teacher has the id `{blocks.escape(scope)}`. `/homeroom signups` lists them "
            "(the id is the first word of each line).")


async def _answer(respond, title: str, text: str) -> None:
    """An ephemeral answer: the text escaped, in a code block per section so columns line up."""
    body = [blocks.section(f"*{blocks.escape(title)}*")]
    for part in blocks.split_text(text, blocks.MAX_SECTION - 8):
        body.append(blocks.section("```" + blocks.escape(part) + "```"))
    await respond(text=blocks.escape(blocks.clip(f"{title}\n{text}", blocks.MAX_FALLBACK)),
                  blocks=body[:blocks.MAX_BLOCKS], response_type="ephemeral")
