"""Report an absence, with buttons: which child (typed the first time, then remembered) →
which school days (never typed dates) → why (+ an optional note) → confirm.

Nothing is written until Confirm; then the report and its notice to the attendance office
(`bot.absences.notice`) commit with the turn, once per confirm token (a second tap finds the
row). The family is told the office was notified only when a staff channel is configured.

State: `turn.state.step` is child | days | reason | note | confirm; the picks live in
`turn.state.space("absence")` (children, child, offered, days, reason, note, token).
`/myabsences` (`MyAbsencesFlow`) lists the family's reports from today on.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Callable

from bot.absences import days as school_days
from bot.absences import notice, store
from bot.config import SchoolProfile
from bot.core import payloads
from bot.core.dialog import Turn
from bot.core.localize import Text, joined
from bot.core.payloads import Payload
from bot.i18n import N_
from bot.signups import flowkit as kit
from bot.signups import text as fmt
from bot.storage import children as family_children

KEY = "absence"
MAX_NAME, MAX_NOTE = 60, 300
MAX_CHILDREN = 6  # buttons for the children named before, the latest first

ASK_CHILD_FIRST = N_("I can record the absence here and pass it to the attendance "
                     "office. What is your child's full name? Please type it.")
ASK_CHILD = N_("I can record the absence here and pass it to the attendance office. "
               "Which child will be absent? Tap a name, or type another child's name.")
ASK_OTHER = N_("Please type the child's full name.")
ANOTHER = N_("Another child")
BAD_NAME = N_("Please type a name between 1 and {max} characters.")
ASK_DAYS = N_("Which days will {child} be absent?")
TODAY = N_("Today, {day}")
TOMORROW = N_("Tomorrow, {day}")
BOTH = N_("{first} and {second}")
TODAY_TOMORROW = N_("Today and tomorrow")
WEEK = N_("The rest of the week ({first} – {last})")
THREE = N_("The next 3 school days ({first} – {last})")
NO_DAYS = N_("I couldn't find the next school days. Please call the attendance line to report the absence.")
ASK_REASON = N_("Why will {child} be absent?")
SICK = N_("🤒 Sick")
APPOINTMENT = N_("🩺 Appointment")
FAMILY = N_("👪 Family")
OTHER = N_("Other")
ASK_NOTE = N_("Would you like to add a short note for the attendance office? Type it, or tap “No note”.")
NO_NOTE = N_("No note")
BAD_NOTE = N_("Please keep the note under {max} characters.")
CHECK = N_("Please check the absence:\n\n🧒 {child}\n🗓 {days}\n📝 {reason}{note}")
NOTE_LINE = N_("Note: {note}")
DONE_NOTIFIED = N_("Recorded ✅ {child} is absent on {days}, and the attendance office has been notified. "
                   "To see your reports, type /myabsences.")
DONE_EXPORT = N_("Recorded ✅ {child} is absent on {days}. The attendance clerk will see it in the "
                 "attendance list. To see your reports, type /myabsences.")
ALREADY = N_("This absence is already recorded ✅ To see your reports, type /myabsences.")
STOPPED = N_("OK, I've stopped. No absence was reported.")
RULE_NOTE = N_("If {child} is absent more than {days} school days in a row, please send a doctor's note "
               "when they return.")
RULE_NOTE_NOW = N_("This absence is more than {days} school days in a row: please send a doctor's note when "
                   "{child} returns.")
RULE_CALL = N_("Please report a same-day absence before {time}.")
RULE_LATE = N_("It is after {time}, so please also call the attendance line at {phone} today.")
MY_ABSENCES = N_("My absences")
REPORT = N_("Report an absence")
REASONS = {"sick": SICK, "appointment": APPOINTMENT, "family": FAMILY, "other": OTHER}

LIST = N_("Absences you reported:\n\n{items}")
LINE = N_("{n}. {child}: {days} ({reason})")  # {n} is a letter (kit.letters): numbers are for options
NONE = N_("You have no absences reported from today on.")


def _question_like(text: str) -> bool:
    """At a typing step, only text that looks like a sentence is checked for a new question."""
    return text.rstrip().endswith(("?", "？", "؟")) or len(text.split()) >= 5


def day_words(days, lang: str) -> str:
    return " · ".join(fmt.day(d, lang) for d in sorted(days))  # a day has commas of its own


class AbsenceFlow:
    name = "absence"

    def __init__(self, db, profile: SchoolProfile, office: notice.Office,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.db, self.profile, self.office, self.wake = db, profile, office, wake

    # -- the Flow protocol -----------------------------------------------------------------
    async def start(self, turn: Turn, arg: str | None = None) -> None:
        known = await self.db.run(family_children.children, turn.family.id)
        turn.state.flow, turn.state.step = self.name, "child"
        turn.state.data[KEY] = {"children": [c.name for c in known[:MAX_CHILDREN]]}
        self._ask_child(turn, first=True)

    async def on_text(self, turn: Turn, text: str) -> bool:
        if turn.state.flow != self.name:
            return False
        meant, step = kit.word(text), turn.state.step
        if meant == "cancel":
            self._quit(turn)
        elif meant == "back":
            await self._back(turn)
        elif step in ("child", "note") and not (_question_like(text) and await kit.new_question(turn, text)):
            if step == "child":
                self._typed_child(turn, text)
            else:
                self._typed_note(turn, text)
        elif await kit.new_question(turn, text):
            kit.leave(turn, KEY)  # nothing is recorded: the engine answers the new question
            return False
        else:
            turn.say(kit.USE_BUTTONS)
            await self._show(turn)
        return True

    async def on_payload(self, turn: Turn, payload: Payload) -> bool:
        action, value = payload.action, payload.value
        if action == "start":
            await self.start(turn)
            return True
        if turn.state.flow != self.name or KEY not in turn.state.data:
            if action == "confirm":  # a second tap after the report was recorded
                return await self._again(turn, value)
            return False
        if action == "quit":
            self._quit(turn)
        elif action == "back":
            await self._back(turn)
        elif action == "child":
            self._pick_child(turn, kit.as_int(value))
        elif action == "another":
            turn.state.step = "child"
            self._data(turn)["typing"] = True
            turn.say(ASK_OTHER, kit.nav(self.name, back=False))
        elif action == "days":
            await self._pick_days(turn, value)
        elif action == "why":
            await self._pick_reason(turn, value)
        elif action == "nonote":
            self._data(turn)["note"] = ""
            self._check(turn)
        elif action == "confirm":
            await self._confirm(turn, value)
        else:
            return False
        return True

    # -- steps -------------------------------------------------------------------------------
    def _data(self, turn: Turn) -> dict:
        return turn.state.space(KEY)

    def _today(self, turn: Turn) -> date:
        return turn.now.astimezone(self.profile.tz).date()

    async def _show(self, turn: Turn) -> None:
        await STEPS.show(self, turn)

    def _ask_child(self, turn: Turn, first: bool = False) -> None:
        data = self._data(turn)
        turn.state.step = "child"
        children = data.get("children") or []
        data.pop("typing", None)
        if not children:
            turn.say(ASK_CHILD_FIRST if first else ASK_OTHER, kit.nav(self.name, back=False))
            return
        choices: list = [(joined([name], ""), Payload(self.name, "child", n)) for n, name in enumerate(children)]
        choices += [(ANOTHER, Payload(self.name, "another")), *kit.nav(self.name, back=False)]
        turn.say(ASK_CHILD, choices)

    def _typed_child(self, turn: Turn, typed: str) -> None:
        name = " ".join(typed.split())
        if not name or len(name) > MAX_NAME:
            turn.say(Text(BAD_NAME, {"max": MAX_NAME}))
            self._ask_child(turn)
            return
        self._data(turn)["child"] = name
        self._ask_days(turn)

    def _pick_child(self, turn: Turn, index: int | None) -> None:
        children = self._data(turn).get("children") or []
        if index is None or not 0 <= index < len(children):
            turn.say(kit.EXPIRED)
            self._ask_child(turn)
            return
        self._data(turn)["child"] = children[index]
        self._ask_days(turn)

    def _ask_days(self, turn: Turn) -> None:
        data = self._data(turn)
        today, lang = self._today(turn), turn.lang
        offered = school_days.choices(today, self.profile.holidays)
        if not offered:
            kit.leave(turn, KEY)
            turn.say(NO_DAYS, [(kit.MENU, payloads.MENU)])
            return
        turn.state.step = "days"
        data["offered"] = {k: [d.isoformat() for d in v] for k, v in offered.items()}

        def one(day: date) -> Text:
            if day == today:
                return Text(TODAY, {"day": fmt.day(day, lang)})
            if day == today + timedelta(days=1):
                return Text(TOMORROW, {"day": fmt.day(day, lang)})
            return Text(fmt.day(day, lang), kind="fixed")

        first, second = offered["one"][0], offered["two"][0]
        both = Text(TODAY_TOMORROW) if (first, second) == (today, today + timedelta(days=1)) else \
            Text(BOTH, {"first": fmt.day(first, lang), "second": fmt.day(second, lang)})
        labels = {"one": one(first), "two": one(second), "both": both}
        for key, msgid in (("week", WEEK), ("three", THREE)):
            if key in offered:
                labels[key] = Text(msgid, {"first": fmt.day(offered[key][0], lang), "last": fmt.day(offered[key][-1], lang)})
        choices: list = [(labels[k], Payload(self.name, "days", k)) for k in offered]
        turn.say(Text(ASK_DAYS, {"child": data["child"]}), [*choices, *kit.nav(self.name)])

    async def _pick_days(self, turn: Turn, key: str) -> None:
        data = self._data(turn)
        picked = (data.get("offered") or {}).get(key)
        if turn.state.step != "days" or not picked:
            turn.say(kit.EXPIRED)
            await self._show(turn)
            return
        data["days"] = picked
        self._ask_reason(turn)

    def _ask_reason(self, turn: Turn) -> None:
        turn.state.step = "reason"
        choices: list = [(label, Payload(self.name, "why", key)) for key, label in REASONS.items()]
        turn.say(Text(ASK_REASON, {"child": self._data(turn)["child"]}), [*choices, *kit.nav(self.name)])

    async def _pick_reason(self, turn: Turn, reason: str) -> None:
        if reason not in REASONS or not self._data(turn).get("days"):
            turn.say(kit.EXPIRED)
            await self._show(turn)
            return
        self._data(turn)["reason"] = reason
        self._ask_note(turn)

    def _ask_note(self, turn: Turn) -> None:
        turn.state.step = "note"
        turn.say(ASK_NOTE, [(NO_NOTE, Payload(self.name, "nonote")), *kit.nav(self.name)])

    def _typed_note(self, turn: Turn, typed: str) -> None:
        note = " ".join(typed.split())
        if len(note) > MAX_NOTE:
            turn.say(Text(BAD_NOTE, {"max": MAX_NOTE}))
            self._ask_note(turn)
            return
        self._data(turn)["note"] = note
        self._check(turn)

    def _check(self, turn: Turn) -> None:
        data = self._data(turn)
        if not (data.get("child") and data.get("days") and data.get("reason")):
            self._ask_child(turn)
            return
        data["token"] = kit.token()
        turn.state.step = "confirm"
        note = joined([Text(NOTE_LINE, {"note": data["note"]})], prefix="\n") if data.get("note") else ""
        values = {"child": data["child"], "days": self._days(turn), "reason": Text(REASONS[data["reason"]]),
                  "note": note}
        turn.say(Text(CHECK, values), [(kit.CONFIRM, Payload(self.name, "confirm", data["token"])),
                                       *kit.nav(self.name)])

    def _days(self, turn: Turn) -> str:
        return day_words([date.fromisoformat(d) for d in self._data(turn)["days"]], turn.lang)

    async def _confirm(self, turn: Turn, token: str) -> None:
        data = self._data(turn)
        if turn.state.step != "confirm" or not token or token != data.get("token"):
            turn.say(kit.EXPIRED)
            await self._show(turn)
            return
        key = f"{turn.family.id}:{token}"
        if await self.db.run(store.by_key, key) is not None:  # the turn is being redone: it is recorded
            kit.leave(turn, KEY)
            turn.say(ALREADY, self._after())
            return
        days = [date.fromisoformat(d) for d in data["days"]]
        child, reason, note = data["child"], data["reason"], data.get("note") or ""
        guardian, lang, office = kit.name_for(turn), turn.lang, self.office
        family_id = turn.family.id

        def write(conn, now: str) -> None:
            absence_id = store.record(conn, family_id, child, guardian, lang, days, reason, note,
                                      office.channels, key, now)
            family_children.remember(conn, family_id, child, now)  # offered next time, here and for conferences
            if absence_id is not None:
                body = notice.text(child, guardian, lang, days, reason, note, now)
                notice.queue(conn, office, absence_id, family_id, body, now)

        turn.effect(write)
        if office.channels:
            turn.after_commit.append(self._wake)
        kit.leave(turn, KEY)
        values = {"child": child, "days": day_words(days, lang)}
        body = [Text(DONE_NOTIFIED if office.channels else DONE_EXPORT, values), *self._rules(turn, child, days)]
        turn.say(joined(body, "\n\n"), self._after())

    async def _wake(self) -> None:
        self.wake()

    def _rules(self, turn: Turn, child: str, days: list[date]) -> list[Text]:
        """The school's rules (profile [absences]), as they apply to this report."""
        policy, lines = self.profile.absences, []
        if policy.note_after_days:
            longer = school_days.consecutive(days, self.profile.holidays) > policy.note_after_days
            lines.append(Text(RULE_NOTE_NOW if longer else RULE_NOTE, {"child": child, "days": policy.note_after_days}))
        if policy.call_before is not None:
            now = turn.now.astimezone(self.profile.tz)
            at = fmt.clock(datetime.combine(now.date(), policy.call_before), turn.lang)
            if now.date() in days and now.time() >= policy.call_before:
                phone = self.profile.info.get("attendance_phone") or self.profile.info.get("office_phone", "")
                lines.append(Text(RULE_LATE, {"time": at, "phone": phone}))
            else:
                lines.append(Text(RULE_CALL, {"time": at}))
        return lines

    async def _again(self, turn: Turn, token: str) -> bool:
        """Confirm tapped again after the report was recorded: say so, record nothing."""
        if token and await self.db.run(store.by_key, f"{turn.family.id}:{token}") is not None:
            turn.say(ALREADY, self._after())
            return True
        return False

    def _after(self) -> list:
        return [(MY_ABSENCES, Payload("myabsences", "list")), (kit.MENU, payloads.MENU)]

    async def _back(self, turn: Turn) -> None:
        if not await STEPS.back(self, turn):
            self._quit(turn)

    def _quit(self, turn: Turn) -> None:
        kit.leave(turn, KEY)
        turn.say(STOPPED, self._after())


# The steps in order: how each is asked again, and where Back goes from it.
STEPS = kit.Steps("child", {
    "child": kit.Step(lambda flow, turn, picks: flow._ask_child(turn), back=None),
    "days": kit.Step(lambda flow, turn, picks: flow._ask_days(turn), back="child"),
    "reason": kit.Step(lambda flow, turn, picks: flow._ask_reason(turn), back="days"),
    "note": kit.Step(lambda flow, turn, picks: flow._ask_note(turn), back="reason"),
    "confirm": kit.Step(lambda flow, turn, picks: flow._check(turn), back="note"),
})


class MyAbsencesFlow:
    """`/myabsences`: the absences the family reported, from today on. Keeps no state."""

    name = "myabsences"

    def __init__(self, db, profile: SchoolProfile) -> None:
        self.db, self.profile = db, profile

    async def start(self, turn: Turn, arg: str | None = None) -> None:
        await self._list(turn)

    async def on_text(self, turn: Turn, text: str) -> bool:
        return False

    async def on_payload(self, turn: Turn, payload: Payload) -> bool:
        if payload.action != "list":
            return False
        await self._list(turn)
        return True

    async def _list(self, turn: Turn) -> None:
        today = turn.now.astimezone(self.profile.tz).date()
        absences = await self.db.run(store.for_family, turn.family.id, today)
        choices = [(REPORT, Payload("absence", "start")), (kit.MENU, payloads.MENU)]
        if turn.state.flow == "absence":
            kit.leave(turn, KEY)
        if not absences:
            turn.say(NONE, choices)
            return
        lines = [Text(LINE, {"n": n, "child": a.child, "days": day_words(a.days, turn.lang),
                             "reason": Text(REASONS[a.reason])}) for n, a in zip(kit.letters(), absences)]
        turn.say(Text(LIST, {"items": joined(lines)}), choices)


def absence_flows(db, profile: SchoolProfile, office: notice.Office,
                  wake: Callable[[], None] = lambda: None) -> dict[str, object]:
    """The engine's absence flows; none when the school takes absences by phone only."""
    if not profile.absences.enabled:
        return {}
    flows = (AbsenceFlow(db, profile, office, wake), MyAbsencesFlow(db, profile))
    return {flow.name: flow for flow in flows}
