"""The report as plain text (terminal, Slack), one tidy CSV, and one chart for a newsletter.

- Text is plain: no markup, so it pastes anywhere; numbers come with what they mean.
- The CSV is *tidy*: one number per row, columns `section, key, metric, value`
  (e.g. `topic, attendance, handed_off, 2`), so a spreadsheet can pivot it and a new metric
  never changes the columns. Sections: summary, topic, language, tickets, signups, conferences,
  interpreter.
- The chart answers one question — what did families ask about, and how much did the bot answer
  itself — as horizontal bars per topic split "answered by the bot" / "handed to staff", at a
  fixed 1200×675 px (16:9, pastes well into a newsletter or slide) in DejaVu Sans (ships with
  matplotlib, so no font lookup). Colours are from the Okabe–Ito palette (safe for colour-blind
  readers). matplotlib is imported only here, when a chart is asked for, so `homeroom` starts
  fast; the object-oriented API (no pyplot) keeps it off any GUI backend and global state.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

from bot import csv_safe
from bot.reports.compute import Report
from bot.understanding.language import ENGLISH_NAMES

CSV_COLUMNS = ("section", "key", "metric", "value")
PNG_SIZE = (1200, 675)
_DPI = 100
MAX_BARS = 10
BOT_COLOUR, STAFF_COLOUR = "#0072B2", "#E69F00"


# -- labels --------------------------------------------------------------------------------
def topic_label(topic: str) -> str:
    return topic.replace("_", " ").capitalize()


def language_label(code: str) -> str:
    return f"{ENGLISH_NAMES[code]} ({code})" if code in ENGLISH_NAMES else (code if code != "?" else "unknown")


def period_label(report: Report) -> str:
    """'Nov 30 – Dec 6, 2026' in the period's own time zone (the end is exclusive)."""
    first = report.start
    last = (report.end - timedelta(microseconds=1)).astimezone(first.tzinfo)
    if first.date() == last.date():
        return _day(first, year=True)
    return f"{_day(first, year=first.year != last.year)} – {_day(last, year=True)}"


def _day(moment: datetime, year: bool) -> str:
    return f"{moment:%b} {moment.day}" + (f", {moment.year}" if year else "")


def minutes_label(minutes: float) -> str:
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{round(minutes)} min"
    if minutes < 48 * 60:
        hours, rest = divmod(round(minutes), 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes / 1440:.1f} days"


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


# -- text ----------------------------------------------------------------------------------
def summary_lines(report: Report) -> list[str]:
    """The headline numbers, one sentence each (shared by the text report and Slack)."""
    r = report
    lines = [f"{r.families} {'family' if r.families == 1 else 'families'} sent {r.messages} "
             f"message{'s' if r.messages != 1 else ''}."]
    if r.questions:
        lines.append(f"Questions: {r.questions}. Answered by the bot: {r.answered_by_bot} "
                     f"({_share(r.answered_by_bot, r.questions)}). Handed to staff: {r.handed_off} "
                     f"({_share(r.handed_off, r.questions)}).")
    else:
        lines.append("No questions from families in this period.")
    if r.tickets:
        urgent = f" ({r.tickets_urgent} urgent)" if r.tickets_urgent else ""
        median = (f"median {minutes_label(r.median_first_response_minutes)} "
                  f"({r.tickets_responded} of {r.tickets} answered so far)"
                  if r.median_first_response_minutes is not None else "no staff reply yet")
        lines.append(f"Staff hand-offs: {r.tickets} ticket{'s' if r.tickets != 1 else ''}{urgent}. "
                     f"First staff response: {median}.")
    else:
        lines.append("Staff hand-offs: no tickets.")
    if r.replies_untranslated:
        lines.append(f"Staff replies sent in English because no translation model was installed: "
                     f"{r.replies_untranslated} (those families may need an interpreter).")
    return lines


def topic_rows(report: Report) -> list[str]:
    width = max([len(topic_label(t.topic)) for t in report.by_topic] + [20])
    rows = [f"  {'Topic':<{width}}  {'Asked':>5}  {'By bot':>6}  {'To staff':>8}"]
    rows += [f"  {topic_label(t.topic):<{width}}  {t.questions:>5}  {t.answered_by_bot:>6}  {t.handed_off:>8}"
             for t in report.by_topic]
    return rows


def language_rows(report: Report) -> list[str]:
    width = max([len(language_label(x.language)) for x in report.by_language] + [20])
    return [f"  {language_label(x.language):<{width}}  {x.questions:>5}  {_share(x.questions, report.questions):>4}"
            for x in report.by_language]


def family_language_rows(report: Report) -> list[str]:
    width = max([len(language_label(x.language)) for x in report.families_by_language] + [20])
    return [f"  {language_label(x.language):<{width}}  {x.questions:>5}  {_share(x.questions, report.families):>4}"
            for x in report.families_by_language]


def signup_lines(report: Report) -> list[str]:
    lines = []
    for o in report.signups:
        waiting = f", {o.waitlisted} on the waitlist" if o.waitlisted else ""
        lines.append(f"  {o.title}: {o.confirmed} of {o.capacity} spots filled{waiting}"
                     f" ({o.new_in_period} new this period)")
    return lines


def conference_line(report: Report) -> str:
    c = report.conferences
    if not c.booked:
        return "Conferences: none booked."
    needs = ", ".join(f"{ENGLISH_NAMES.get(x.language, x.language)} {x.questions}" for x in c.interpreter_languages)
    return (f"Conferences: {c.booked} booked ({c.new_in_period} new this period); "
            f"{c.need_interpreter} need an interpreter" + (f" ({needs})." if needs else "."))


def render_text(report: Report) -> str:
    zone = getattr(report.start.tzinfo, "key", None) or report.start.tzname()
    out = [f"{report.school or 'Homeroom'}: community report, {period_label(report)}",
           f"(from {report.start:%a %Y-%m-%d %H:%M} to {report.end:%a %Y-%m-%d %H:%M}, {zone})", ""]
    out += summary_lines(report)
    if report.by_topic:
        out += ["", "Questions by topic"] + topic_rows(report)
    if report.by_language:
        out += ["", "Questions by language"] + language_rows(report)
    if report.families_by_language:
        out += ["", "Families by language"] + family_language_rows(report)
    out += ["", "Volunteer sign-ups (shifts in this period and upcoming, as of now)"]
    out += signup_lines(report) or ["  none"]
    out += [conference_line(report)]
    return "\n".join(out) + "\n"


# -- CSV -----------------------------------------------------------------------------------
def csv_rows(report: Report) -> list[tuple[str, str, str, str]]:
    r = report
    rows: list[tuple[str, str, str, object]] = [
        ("summary", "school", "name", r.school),
        ("summary", "period", "start", r.start.isoformat()),
        ("summary", "period", "end", r.end.isoformat()),
        ("summary", "all", "messages", r.messages),
        ("summary", "all", "families", r.families),
        ("summary", "all", "questions", r.questions),
        ("summary", "all", "answered_by_bot", r.answered_by_bot),
        ("summary", "all", "handed_off", r.handed_off),
    ]
    for t in r.by_topic:
        rows += [("topic", t.topic, "questions", t.questions), ("topic", t.topic, "answered_by_bot", t.answered_by_bot),
                 ("topic", t.topic, "handed_off", t.handed_off)]
    rows += [("language", x.language, "questions", x.questions) for x in r.by_language]
    rows += [("language", x.language, "families", x.questions) for x in r.families_by_language]
    median = r.median_first_response_minutes
    rows += [("tickets", "all", "created", r.tickets), ("tickets", "all", "urgent", r.tickets_urgent),
             ("tickets", "all", "responded", r.tickets_responded),
             ("tickets", "all", "median_first_response_minutes", "" if median is None else f"{median:.1f}"),
             ("tickets", "all", "replies_untranslated", r.replies_untranslated)]
    for o in r.signups:
        rows += [("signups", o.id, "title", o.title), ("signups", o.id, "shifts", o.shifts),
                 ("signups", o.id, "capacity", o.capacity), ("signups", o.id, "confirmed", o.confirmed),
                 ("signups", o.id, "waitlisted", o.waitlisted), ("signups", o.id, "new_in_period", o.new_in_period)]
    c = r.conferences
    rows += [("conferences", "all", "booked", c.booked), ("conferences", "all", "new_in_period", c.new_in_period),
             ("conferences", "all", "need_interpreter", c.need_interpreter)]
    rows += [("interpreter", x.language, "conferences", x.questions) for x in c.interpreter_languages]
    return [(a, b, m, str(v)) for a, b, m, v in rows]


def write_csv(report: Report, path: Path | str) -> None:
    """The tidy CSV; the school's name, topics and sign-up titles are text staff wrote, so every
    cell is formula-safe (`bot.csv_safe`)."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv_safe.writer(out)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(report))


# -- chart ---------------------------------------------------------------------------------
def png_bytes(report: Report) -> bytes:
    """The newsletter chart as PNG bytes (1200×675 px)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(PNG_SIZE[0] / _DPI, PNG_SIZE[1] / _DPI), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(fig)
    if report.questions:
        numbers = (f"{report.questions} questions · {_share(report.answered_by_bot, report.questions)} answered "
                   f"by the bot, at any hour · {report.handed_off} handed to school staff")
    else:
        numbers = "0 questions"
    lines = ((report.school or "Homeroom", 22, "bold", "#222222", 0.945),
             (f"Questions from families, {period_label(report)}", 16, "normal", "#222222", 0.885),
             (numbers, 13, "normal", "#444444", 0.835))
    for text, size, weight, colour, y in lines:
        _fitted_text(fig, 0.03, y, text, size, weight, colour)
    ax = fig.add_axes((0.22, 0.09, 0.74, 0.64))
    topics = list(report.by_topic)
    if len(topics) > MAX_BARS:  # the rest in one bar, so the chart stays readable
        rest = topics[MAX_BARS - 1:]
        from bot.reports.compute import TopicCount
        topics = topics[:MAX_BARS - 1] + [TopicCount("other topics", sum(t.questions for t in rest),
                                                     sum(t.answered_by_bot for t in rest),
                                                     sum(t.handed_off for t in rest))]
    if topics:
        topics.reverse()  # barh draws bottom-up: the biggest topic on top
        labels = [topic_label(t.topic) for t in topics]
        bot = [t.answered_by_bot for t in topics]
        staff = [t.handed_off for t in topics]
        ax.barh(labels, bot, color=BOT_COLOUR, label="Answered by the bot", height=0.65)
        ax.barh(labels, staff, left=bot, color=STAFF_COLOUR, label="Handed to staff", height=0.65)
        biggest = max(t.questions for t in topics)
        for y, t in enumerate(topics):
            ax.text(t.questions + biggest * 0.01, y, str(t.questions), va="center", fontsize=12, color="#222222")
        ax.set_xlim(0, biggest * 1.1)
        ax.tick_params(axis="y", labelsize=13, length=0)
        ax.tick_params(axis="x", labelsize=11)
        ax.set_xlabel("Questions from families", fontsize=12)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=12, frameon=False,
                  handlelength=1.2, borderaxespad=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="x", color="#dddddd")
        ax.set_axisbelow(True)
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No questions from families in this period.", transform=ax.transAxes, ha="center",
                va="center", fontsize=16, color="#666666", family="DejaVu Sans")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def write_png(report: Report, path: Path | str) -> None:
    Path(path).write_bytes(png_bytes(report))


def _fitted_text(fig, x: float, y: float, text: str, size: int, weight: str, colour: str) -> None:
    """A line of text that shrinks (down to 9 pt, then is cut) to fit the picture's width."""
    room = fig.bbox.width * (1 - 2 * x)
    label = fig.text(x, y, text, fontsize=size, fontweight=weight, family="DejaVu Sans", color=colour,
                     va="center", ha="left")
    renderer = fig.canvas.get_renderer()
    while label.get_window_extent(renderer).width > room:
        if label.get_fontsize() > 9:
            label.set_fontsize(label.get_fontsize() - 1)
        else:
            text = text[:-2] + "…"
            label.set_text(text)
