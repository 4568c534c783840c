"""Hand-off details the family and staff notice: files a parent sends during a hand-off reach
the ticket's thread (or staff are told why not), and a family whose ticket reached Slack late
(an outage) is told when it finally did. Same world as test_slack.py: the real bolt app, the
mock Web API, the real engine and store."""

from __future__ import annotations

from bot.core.localize import Text
from bot.core.messages import Incoming, Media
from bot.handoff import REACHED_STAFF_LATE_TEXT
from test_slack import TRIAGE, blocks_text, mock, open_ticket, posts, slack_settings, world  # noqa: F401

PHOTO = b"\xff\xd8\xff\xe0 a photo of a doctor's note \xff\xd9"


async def send_media(world, item: Media, caption: str = "", user: str = "p1"):
    return await world.home.engine.handle(Incoming("test", user, user, caption, media=item,
                                                   display_name=f"Family {user}"))


async def test_a_photo_during_a_handoff_is_uploaded_into_the_thread(world, mock):
    fetched: list[str] = []

    async def fetch(item: Media) -> bytes:
        fetched.append(item.ref)
        return PHOTO
    world.home.media.register("test", fetch)
    try:
        ticket = await open_ticket(world)
        replies = await send_media(world, Media("photo", "FILE-1", "photo.jpg", "image/jpeg", len(PHOTO)),
                                   caption="giấy bác sĩ")
        [ack] = replies  # acknowledged to the parent, once, in their language
        assert ack.language == "vi" and "/menu" in ack.text
        await world.deliver()
    finally:
        world.home.media.unregister("test")
    assert fetched == ["FILE-1"]  # fetched only when forwarded
    [upload] = mock.calls("files.completeUploadExternal")
    channel, ts = ticket.staff_ref.split(":")
    assert upload.params["channel_id"] == channel and str(upload.params["thread_ts"]) == ts
    assert "[photo]" in upload.params["initial_comment"] and "giấy bác sĩ" in upload.params["initial_comment"]
    assert list(mock.uploads.values())[-1].content == PHOTO
    events = await world.events(ticket.id)
    assert any(e[0] == "parent" and e[2].startswith("[photo]") for e in events)  # the timeline shows it


async def test_a_file_that_cannot_be_fetched_is_named_in_the_thread(world, mock):
    ticket = await open_ticket(world)  # no fetcher registered for the "test" channel
    big = Media("document", "FILE-2", "scan.pdf", "application/pdf", 50 * 1024 * 1024)
    await send_media(world, big)
    await world.deliver()
    assert not mock.calls("files.completeUploadExternal")
    thread = [p for p in posts(mock) if p.get("thread_ts") == ticket.staff_ref.split(":")[1]]
    assert "could not be forwarded" in blocks_text(thread[-1]) and "too large" in blocks_text(thread[-1])


async def test_a_location_goes_as_text(world, mock):
    ticket = await open_ticket(world)
    await send_media(world, Media("location", description="40.71280, -74.00600"))
    await world.deliver()
    thread = [p for p in posts(mock) if p.get("thread_ts") == ticket.staff_ref.split(":")[1]]
    assert "40.71280, -74.00600" in blocks_text(thread[-1])


async def test_media_outside_a_handoff_gets_the_text_only_reply_with_a_person_button(world):
    replies = await send_media(world, Media("voice", "V-1", "voice.ogg", "audio/ogg", 1000), user="p9")
    assert "text messages" in replies[0].text
    assert "human" in [c.payload for c in replies[0].choices]


async def test_family_is_told_when_a_ticket_reaches_slack_late(world, mock):
    await world.vietnamese("p1")
    mock.outage(True)
    await world.say("p1", "/human")
    await world.home.delivery.run_once()  # refused: Slack is down
    world.parent.clear()
    world.clock.advance(minutes=20)
    mock.outage(False)
    for _ in range(100):
        if not world.slack.sender.breaker_open():
            break
        import asyncio
        await asyncio.sleep(0.02)
    await world.deliver()
    assert posts(mock) and posts(mock)[0]["channel"] == TRIAGE
    late = (await world.home.engine.localizer.render(Text(REACHED_STAFF_LATE_TEXT), "vi")).text
    assert [m["text"] for m in world.parent] == [late]


async def test_no_late_notice_when_slack_took_it_at_once(world, mock):
    await open_ticket(world)
    assert [m for m in world.parent if "delayed" in m["text"] or "đã đến" in m["text"]] == []
    late = (await world.home.engine.localizer.render(Text(REACHED_STAFF_LATE_TEXT), "vi")).text
    assert late not in [m["text"] for m in world.parent]


async def test_weekly_report_posts_numbers_and_chart_to_the_report_channel(world, mock, tmp_path):
    """`report_channel` in [slack]: the weekly report goes there as a message, its chart under it."""
    from dataclasses import replace
    from datetime import timedelta

    from bot.reports.weekly import last_weekly_run, post_if_due

    world.slack.slack = replace(world.slack.slack, report_channel="C0REPORT")
    home = world.home
    now = last_weekly_run(world.clock(), home.profile.tz) + timedelta(minutes=5)
    state = tmp_path / "weekly.json"
    catalog = home.understanding.current.catalog
    assert await post_if_due(home.db, catalog, home.profile, world.slack.post_report, now, state)
    assert not await post_if_due(home.db, catalog, home.profile, world.slack.post_report, now, state)
    [message] = [p for p in posts(mock) if p["channel"] == "C0REPORT"]
    assert message["text"].startswith(f"{home.profile.name} weekly report")
    [upload] = mock.calls("files.completeUploadExternal")
    assert upload.params["channel_id"] == "C0REPORT"
    assert list(mock.uploads.values())[-1].content[:8] == b"\x89PNG\r\n\x1a\n"


async def test_privacy_says_staff_see_it_in_the_schools_slack(world):
    reply, _ = await world.say("p7", "/privacy")
    assert "in the school's own Slack and tools" in reply.text
