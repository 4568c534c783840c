"""Block Kit for staff: pure functions from plain data to (fallback text, blocks). No network.

- **Everything that came from a person is escaped** for mrkdwn (`&`, `<`, `>`): a parent (or a
  machine translation of one) writing `<!channel>`, `<@U123>` or `<http://evil|school portal>`
  must show those characters and ping or link no one. Only our own markup (bold labels,
  `<@U…>` for staff ids we know, the configured urgent mention, `<!date^…>`) is left raw.
- Long text is split on a line, then a word boundary so that no section exceeds Slack's
  3,000 characters (measured on the escaped text in UTF-16 code units, as Slack counts),
  and a message never has more than 50 blocks (the middle is cut with a note, never the
  buttons). Header text stays within 150 characters, fields within 2,000.
- `slack_to_plain` goes the other way: a staff message's Slack markup (mentions, links,
  entities) becomes plain text for the family.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Block = dict[str, Any]

MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_BLOCKS = 50
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK = 3000
MAX_HOME_BLOCKS = 100
TURN_CHARS = 300

ACTION_CLAIM, ACTION_RESOLVE, ACTION_REOPEN = "homeroom_claim", "homeroom_resolve", "homeroom_reopen"
ACTIONS = (ACTION_CLAIM, ACTION_RESOLVE, ACTION_REOPEN)
ACTIONS_BLOCK_ID = "homeroom_ticket"

_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


# -- escaping and splitting ----------------------------------------------------------------
def escape(text: str) -> str:
    """mrkdwn-safe text: the three characters Slack parses for mentions and links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_len(text: str) -> int:
    """Slack counts characters in UTF-16 code units (an emoji can count twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split raw `text` into parts whose *escaped* size is at most `limit`, at a line break,
    else a space, else anywhere; a boundary is used only if it keeps half the room. Whitespace
    at a cut is dropped. Returns [] for empty text; parts are raw (escape them after)."""
    if limit < 8:
        raise ValueError("limit too small")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        if slack_len(escape(rest)) <= limit:
            parts.append(rest)
            break
        # the longest prefix that fits (escaping can grow a character to 5)
        size, end = 0, 0
        for index, char in enumerate(rest):
            size += slack_len(escape(char))
            if size > limit:
                break
            end = index + 1
        window = rest[:end]
        cut = -1
        for sep in ("\n", " "):
            found = window.rfind(sep)
            if found >= end // 2:
                cut = found
                break
        if cut <= 0:
            cut = end
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [p for p in parts if p]


def clip(text: str, limit: int) -> str:
    """Raw text shortened (with an ellipsis) so its escaped size fits `limit`."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if slack_len(escape(text)) <= limit:
        return text
    return split_text(text, limit - 1)[0] + "…"


def section(text: str) -> Block:
    """One section of already-safe mrkdwn (must be within MAX_SECTION)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def sections(label: str, raw: str, quote: bool = True) -> list[Block]:
    """A bold-labelled piece of someone's words: escaped, quoted, split into sections."""
    room = MAX_SECTION - slack_len(label) - 8
    lines: list[str] = []
    for line in raw.strip().split("\n") or [""]:
        pieces = split_text(line, room) if line.strip() else [""]
        lines.extend(("> " if quote else "") + escape(piece) for piece in pieces)
    blocks: list[Block] = []
    current = label
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if slack_len(candidate) > MAX_SECTION:
            blocks.append(section(current))
            current = line
        else:
            current = candidate
    if current:
        blocks.append(section(current))
    return blocks


def context(*texts: str) -> list[Block]:
    """Context blocks of already-safe mrkdwn texts (each split if needed, 10 per block)."""
    elements: list[dict[str, str]] = []
    for text in texts:
        if slack_len(text) <= MAX_SECTION:
            elements.append({"type": "mrkdwn", "text": text})
        else:
            elements.extend({"type": "mrkdwn", "text": part} for part in _split_safe(text))
    return [{"type": "context", "elements": elements[i:i + MAX_CONTEXT_ELEMENTS]}
            for i in range(0, len(elements), MAX_CONTEXT_ELEMENTS)]


def context_of(raw: str) -> list[Block]:
    """Context blocks of someone's words (escaped and split)."""
    return context(*[escape(p) for p in split_text(raw, MAX_SECTION)] or [" "])


def _split_safe(safe: str) -> list[str]:
    """Split already-escaped text without cutting an entity (`&amp;`)."""
    parts = []
    while slack_len(safe) > MAX_SECTION:
        cut = MAX_SECTION // 2 if slack_len(safe[:MAX_SECTION]) > MAX_SECTION else MAX_SECTION
        amp = safe.rfind("&", max(0, cut - 5), cut)
        if amp != -1 and ";" not in safe[amp:cut]:
            cut = amp
        space = safe.rfind(" ", 0, cut)
        if space >= cut // 2:
            cut = space
        parts.append(safe[:cut])
        safe = safe[cut:].lstrip()
    return [p for p in parts + [safe] if p]


def fit(head: list[Block], body: list[Block], tail: list[Block], limit: int = MAX_BLOCKS,
        more: str = "…the rest is too long for one Slack message.") -> list[Block]:
    """`head + body + tail` within `limit` blocks: the body is cut (with a note), never the
    head or the tail (buttons)."""
    room = limit - len(head) - len(tail)
    if len(body) > room:
        body = body[:max(0, room - 1)] + context(f"_{escape(more)}_")
    return (head + body + tail)[:limit]


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _plain(text, MAX_HEADER), "emoji": True}}


def _plain(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- people and time -----------------------------------------------------------------------
def who(staff: str | None) -> str:
    """A staff member: a Slack user id becomes a mention, any other name is escaped text."""
    if not staff:
        return "someone"
    return f"<@{staff}>" if _SLACK_ID.match(staff) else escape(staff)


def when(moment: datetime | None) -> str:
    """A time Slack shows in each reader's own time zone."""
    if moment is None:
        return ""
    fallback_text = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback_text}>"


def age(seconds: float) -> str:
    minutes = int(max(0, seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


# -- the ticket message --------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation, for context."""

    speaker: str              # "Parent" or "Bot"
    text: str
    english: str | None = None


@dataclass(frozen=True)
class TicketCard:
    """Everything the ticket's Slack message shows (built from the store by the sender)."""

    ticket_id: int
    topic: str
    priority: str
    status: str
    family: str | None
    language: str
    language_name: str
    words: str
    english: str | None = None
    interpreter: str | None = None
    understood: str | None = None
    reason: str = ""
    turns: tuple[Turn, ...] = ()
    created_at: datetime | None = None
    status_by: str | None = None
    status_at: datetime | None = None
    note_prefix: str = "note:"
    mention: str | None = None    # the configured urgent mention (raw markup), urgent only
    reply_promise: str = "your reply is sent to the family"  # bot.handoff.reply_promise: true for this language
    extra: tuple[str, ...] = field(default_factory=tuple)  # extra context lines (safe mrkdwn)


def status_line(status: str, by: str | None, at: datetime | None) -> str:
    if status == "claimed":
        return f":raising_hand: Claimed by {who(by)} {when(at)}".rstrip()
    if status == "resolved":
        return f":white_check_mark: Resolved by {who(by)} {when(at)}".rstrip()
    if by:
        return f":large_yellow_circle: Reopened by {who(by)} {when(at)}".rstrip()
    return ":large_yellow_circle: Open, waiting for staff"


def ticket_title(card: TicketCard) -> str:
    mark = "🚨 URGENT" if card.priority == "urgent" else "Normal"
    return f"{mark} · {card.topic} · Ticket #{card.ticket_id}"


def buttons(ticket_id: int) -> Block:
    value = str(ticket_id)
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": [
        {"type": "button", "action_id": ACTION_CLAIM, "value": value,
         "text": {"type": "plain_text", "text": "Claim", "emoji": True}},
        {"type": "button", "action_id": ACTION_RESOLVE, "value": value, "style": "primary",
         "text": {"type": "plain_text", "text": "Resolve", "emoji": True}},
        {"type": "button", "action_id": ACTION_REOPEN, "value": value,
         "text": {"type": "plain_text", "text": "Reopen", "emoji": True}},
    ]}


def ticket_message(card: TicketCard) -> tuple[str, list[Block]]:
    """The ticket's one message in the triage channel (posted, then updated on each status)."""
    urgent = card.priority == "urgent"
    family = clip(card.family or "(no name)", 100)
    language = escape(f"{card.language_name} ({card.language})")
    if card.interpreter:
        language += f"\n:warning: needs interpreter: {escape(card.interpreter)}"
    head: list[Block] = [header(ticket_title(card))]
    if urgent and card.mention:
        head.append(section(f"{card.mention} :rotating_light: urgent: please respond now"))
    head.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": f"*Family*\n{escape(family)}"},
        {"type": "mrkdwn", "text": f"*Language*\n{language}"},
        {"type": "mrkdwn", "text": f"*Status*\n{status_line(card.status, card.status_by, card.status_at)}"},
        {"type": "mrkdwn", "text": f"*Opened*\n{when(card.created_at) or '-'}"},
    ]})
    understood = card.understood or "nothing specific"
    head.append(section(clip(f"*What the bot understood:* {escape(understood)}"
                             + (f" ({escape(card.reason)})" if card.reason else ""), MAX_SECTION)))
    body: list[Block] = []
    if card.turns:
        lines = []
        for turn in card.turns:
            line = f"*{turn.speaker}:* {escape(clip(turn.text, TURN_CHARS))}"
            if turn.english:
                line += f" _(English: {escape(clip(turn.english, TURN_CHARS))})_"
            lines.append(line)
        body.extend(context("*Earlier in the conversation:*", *lines))
    body.extend(sections(f"*The parent wrote ({escape(card.language_name)}):*", card.words or "(no text)"))
    if card.english:
        body.extend(sections("*English (machine translation):*", card.english))
    elif card.language != "en":
        body.extend(context(f":warning: No English translation: the parent's words are in "
                            f"{escape(card.language_name)} only."))
    tail = context(
        f"Reply *in this thread* to answer the family: {escape(card.reply_promise)}. Thread messages starting with "
        f"`{escape(card.note_prefix)}` are internal notes and are never sent. Edits and deletions "
        f"are not sent either: to correct a reply, write a new one.", *card.extra)
    tail.append(buttons(card.ticket_id))
    text = _safe_fallback(f"{'URGENT ' if urgent else ''}Ticket #{card.ticket_id} ({card.topic}) from "
                          f"{card.family or 'a family'}: {card.english or card.words}")
    if urgent and card.mention:
        text = f"{card.mention} {text}"
    return text, fit(head, body, tail)


def thread_message(words: str, english: str | None, language_name: str, urgent: bool = False,
                   mention: str | None = None) -> tuple[str, list[Block]]:
    """A later parent message, in the ticket's thread: the original and the English."""
    head: list[Block] = []
    if urgent:
        head.append(section(f"{mention + ' ' if mention else ''}:rotating_light: *Urgent wording* in this "
                            "message; the family got the safety guidance."))
    body = sections(f"*Parent ({escape(language_name)}):*", words or "(no text)")
    if english:
        body += sections("*English (machine translation):*", english)
    text = _safe_fallback(f"Parent: {english or words}")
    if urgent and mention:
        text = f"{mention} {text}"
    return text, fit(head, body, [])


def context_message(raw: str) -> tuple[str, list[Block]]:
    """A context line in the thread (what the family received, its back-translation)."""
    return _safe_fallback(raw), fit([], context_of(raw), [])


def reminder_message(minutes: int, urgent: bool, mention: str | None) -> tuple[str, list[Block]]:
    ping = f"{mention} " if urgent and mention else ""
    text = (f"{ping}:alarm_clock: No staff reply yet: this family has waited more than {minutes} minutes. "
            "Claim the ticket, or reply in this thread.")
    return text, [section(text)]


def urgent_pointer(ticket_id: int, permalink: str | None, mention: str | None) -> tuple[str, list[Block]]:
    """Posted in the urgent channel when an open ticket elsewhere turns urgent."""
    link = f"<{permalink}|ticket #{ticket_id}>" if permalink else f"ticket #{ticket_id}"
    text = f"{mention + ' ' if mention else ''}:rotating_light: {link} became *urgent*: the family wrote urgent words."
    return _strip_markup(text), [section(text)]


def notice(text: str) -> str:
    """An ephemeral notice of ours (plain, escaped)."""
    return escape(text)


def _safe_fallback(raw: str) -> str:
    return escape(clip(raw, MAX_FALLBACK // 5))


def _strip_markup(text: str) -> str:
    return re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", text)


# -- lists, details, stats -----------------------------------------------------------------
@dataclass(frozen=True)
class TicketRow:
    ticket_id: int
    priority: str
    status: str
    topic: str
    language: str
    assignee: str | None
    age_seconds: float
    channel: str | None = None
    interpreter: str | None = None


def ticket_rows(rows: Sequence[TicketRow]) -> list[str]:
    """One mrkdwn line per open ticket (urgent first, then oldest first: the caller's order)."""
    lines = []
    for row in rows:
        mark = "🚨" if row.priority == "urgent" else "•"
        status = f"claimed by {who(row.assignee)}" if row.status == "claimed" else row.status
        where = f" in <#{row.channel}>" if row.channel else " (not posted yet)"
        flag = f" · needs interpreter: {escape(row.interpreter)}" if row.interpreter else ""
        lines.append(f"{mark} *#{row.ticket_id}* {escape(row.topic)} · {escape(row.language)} · {status} · "
                     f"waiting {age(row.age_seconds)}{where}{flag}")
    return lines


def tickets_blocks(rows: Sequence[TicketRow], limit: int = MAX_BLOCKS) -> tuple[str, list[Block]]:
    if not rows:
        return "No open tickets.", [section(":tada: No open tickets.")]
    text = f"{len(rows)} open ticket(s)"
    lines = ticket_rows(rows)
    body: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if slack_len("\n".join(chunk + [line])) > MAX_SECTION:
            body.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        body.append(section("\n".join(chunk)))
    return text, fit([header(f"Open tickets: {len(rows)}")], body, [], limit=limit)


def ticket_detail_blocks(title: str, events: Sequence[tuple]) -> tuple[str, list[Block]]:
    """`/homeroom ticket N`: the timeline (kind, author, text, language, translation, created_at)."""
    body: list[Block] = []
    for kind, author, text, _language, translation, at in events:
        stamp = at[:16].replace("T", " ")
        label = {"parent": "Parent", "staff": f"Staff {who(author)}", "note": f"Note by {who(author)}"}.get(
            kind, f"{escape(kind)} · {who(author)}")
        body += sections(f"*{label}* · {stamp} UTC", clip(text, 1500), quote=True)
        if translation:
            body += context_of(("English: " if kind == "parent" else "Sent: ") + clip(translation, 1500))
    return title, fit([header(title)], body, [])


def stats_blocks(day: str, questions: int, handoffs: int, median_minutes: float | None,
                 languages: Sequence[tuple[str, int]]) -> tuple[str, list[Block]]:
    median = "-" if median_minutes is None else f"{median_minutes:.0f} min"
    langs = ", ".join(f"{escape(code)} {count}" for code, count in languages) or "-"
    text = (f"*Today ({escape(day)})*\nQuestions from families: *{questions}*\nHand-offs to staff: *{handoffs}*\n"
            f"Median first response: *{median}*\nLanguages: {langs}")
    return f"Today: {questions} questions, {handoffs} hand-offs", [section(text)]


def help_text(note_prefix: str) -> str:
    return ("*/homeroom* commands:\n"
            "• `/homeroom tickets`: open tickets, urgent first, then the oldest\n"
            "• `/homeroom ticket N`: the timeline of ticket N\n"
            "• `/homeroom stats`: today's questions, hand-offs, median first response, languages\n"
            "• `/homeroom signups`: volunteer shifts and conferences, how full they are\n"
            "• `/homeroom signups who ID`: who signed up for an opportunity or a teacher (the ID from the list)\n"
            "• `/homeroom signups export [ID]`: the sign-ups as a CSV file, posted here\n"
            f"Answer a family by replying in its ticket's thread; start with `{escape(note_prefix)}` for an "
            "internal note.")


def home_view(rows: Sequence[TicketRow] | None, note_prefix: str) -> dict[str, Any]:
    """The App Home tab: the open tickets at a glance (None: the viewer is not staff)."""
    if rows is None:
        blocks = [header("Homeroom"), section("Only school staff can see tickets here. Ask your school's "
                                              "Homeroom admin to add you to a triage channel.")]
    else:
        _, listing = tickets_blocks(rows, limit=MAX_HOME_BLOCKS - 2)
        blocks = listing + context(help_text(note_prefix))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


# -- staff words to plain text -------------------------------------------------------------
_MARKUP = re.compile(r"<([^<>]*)>")


def slack_to_plain(text: str) -> str:
    """A Slack message's text as the family should read it: `<@U1|ana>` → "@ana",
    `<#C1|office>` → "#office", `<https://x|the form>` → "the form (https://x)", `<!here>` →
    "@here", entities unescaped. Mentions without a label become "@staff"."""
    def plain(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + label.lstrip("@") if label else "@staff"
        if target.startswith("#"):
            return "#" + label if label else "#channel"
        if target.startswith("!"):
            if label:
                return label
            word = target[1:].split("^")[0]
            return "@" + word if word in ("here", "channel", "everyone") else ""
        if target.startswith("mailto:"):
            return label or target[len("mailto:"):]
        if label and label != target:
            return f"{label} ({target})"
        return target

    text = _MARKUP.sub(plain, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
