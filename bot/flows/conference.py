"""Parent–teacher conference booking, with buttons only (never a typed date): teacher → child
(typed once, then a button: the family's children are remembered) → class (only where the
teacher has several) → day (skipped when the teacher has one) → free time (pages of buttons) →
confirm → confirmation with a calendar file. The teacher's lists, the export and the
confirmation show the child with the guardian; a move keeps the booking's child.

One booking per family per teacher: picking a teacher the family already has a conference
with offers to move it, and the move frees the old slot in the same transaction as it takes
the new one (`booking.book_slot(reschedule=True)`). The family's language is recorded on the
booking; when the teacher does not speak it, the family is told an interpreter will be
arranged and staff lists show "interpreter: <language>".

State: `turn.state.step` is teachers | has_booking | child | class | days | slots | confirm; the
picks live in `turn.state.space("conference")` (teacher, child, child_class, day, one_day, slot,
token, resched, page, tpage).
"""

from __future__ import annotations

import re
from datetime import date

from bot.core.payloads import Payload
from bot.core.dialog import Turn
from bot.core.localize import Text, joined
from bot.i18n import N_
from bot.signups import booking, ics, store
from bot.signups import flowkit as kit
from bot.signups import text as fmt
from bot.signups.flowkit import CONFIRM, STOPPED, UNCHANGED
from bot.storage import children
from bot.understanding.normalize import normalize

KEY = "conference"
PER_PAGE = 8

TEACHERS = N_("Which teacher would you like to meet? Pick your child's teacher:")
NO_TEACHERS = N_("There are no parent–teacher conference times open right now. Please check again later, "
                 "or call the office.")
TEACHER_LABEL = N_("{teacher} · {class_name}")
TEACHER_MINE = N_("✓ {teacher} · {class_name}")
TEACHER_GONE = N_("Sorry, conferences with that teacher are no longer offered.")
TEACHER_NO_TIMES = N_("Sorry, {teacher} has no free conference times left. Please call the office to find "
                      "another time.")
HAS_BOOKING = N_("You already have a conference with {teacher} on {when}. Would you like to move it to another time?")
MOVE = N_("Pick a new time")
KEEP = N_("Keep my time")
KEPT = N_("OK, your conference with {teacher} stays on {when}.")
DAYS = N_("Conferences with {teacher} ({class_name}). Pick a day:")
DAY_LABEL = N_("{day} · {count} free")
SLOTS = N_("Free times with {teacher} on {day}. Pick one:")
SLOT_TAKEN = N_("Sorry, that time was just booked by another family. Here are the times still free:")
SLOT_PAST = N_("Sorry, that time has already passed. Here are the times still free:")
SLOT_GONE = N_("Sorry, that time is no longer offered. Here are the times still free:")
CHECK = N_("Please check your conference:\n\n👩‍🏫 {teacher} ({class_name})\n🗓 {when}\n📍 {place}\n👤 {name}"
           "\n🌐 {language}{note}")
NOTE_INTERPRETER = N_("{teacher} does not speak {language}, so the school will arrange an interpreter.")
NOTE_MOVE = N_("This moves your conference from {when}.")
DONE = N_("Your conference is booked! ✅\n\n👩‍🏫 {teacher} ({class_name})\n🗓 {when}\n📍 {place}{note}\n\n"
          "A calendar file is attached. To change or cancel, type /mysignups.")
MOVED = N_("Your conference has been moved. ✅\n\n👩‍🏫 {teacher} ({class_name})\n🗓 {when}\n📍 {place}{note}\n\n"
           "A calendar file is attached. To change or cancel, type /mysignups.")
ALREADY = N_("That is already your conference time.")
SUMMARY = N_("Parent–teacher conference with {teacher}")
ICS_DETAILS = N_("Class: {class_name}\nName: {name}\nLanguage: {language}")
CHILD = N_("Which child is this conference with {teacher} for? Please type your child's name.")
CHILD_KNOWN = N_("Which child is this conference with {teacher} for? Pick a name, or type another name.")
CHILD_AGAIN = N_("Please type just your child's name (for example: Maria Lopez).")
CLASS = N_("{teacher} has several classes. Which one is {child} in?")
CHECK_CHILD = N_("Please check your conference:\n\n👩‍🏫 {teacher} ({class_name})\n🧒 {child}\n🗓 {when}\n📍 {place}"
                 "\n👤 {name}\n🌐 {language}{note}")
DONE_CHILD = N_("Your conference is booked! ✅\n\n👩‍🏫 {teacher} ({class_name})\n🧒 {child}\n🗓 {when}\n📍 {place}"
                "{note}\n\nA calendar file is attached. To change or cancel, type /mysignups.")
MOVED_CHILD = N_("Your conference has been moved. ✅\n\n👩‍🏫 {teacher} ({class_name})\n🧒 {child}\n🗓 {when}\n"
                 "📍 {place}{note}\n\nA calendar file is attached. To change or cancel, type /mysignups.")
ICS_CHILD = N_("Child: {child}")
MAX_CHILD = 60
NAME_WORDS = 3  # a typed text this short at the child step is the name; a longer one may be a question
_NOT_A_NAME = re.compile(r"[0-9?@#/\\:;<>{}\[\]|=+*_~^$%!]")


def staff_label(family_id: int, child: str | None = None) -> str:
    """A family with no chat name, as staff read it (English: staff read English)."""
    child = " ".join((child or "").split())
    return f"{child}'s family"[:100] if child else f"Family #{family_id} (no name given)"


class ConferenceFlow:
    name = "conference"

    def __init__(self, signups) -> None:
        self.s = signups

    # -- the Flow protocol -----------------------------------------------------------------
    async def start(self, turn: Turn, arg: str | None = None) -> None:
        turn.state.flow, turn.state.step = self.name, "teachers"
        turn.state.data[KEY] = {}
        if arg:
            view = await self._view(turn, arg.strip().lower())
            if view.teacher is not None and view.teacher.active:
                await self._pick_teacher(turn, view.teacher.id, view)
                return
        await self._teachers(turn)

    async def change(self, turn: Turn, item: store.Item) -> None:
        """Move an existing conference (from /mysignups)."""
        turn.state.flow = self.name
        turn.state.data[KEY] = {"teacher": item.booking.teacher_id, "resched": True, "from_mine": True}
        await self._days(turn)

    async def on_text(self, turn: Turn, text: str) -> bool:
        if turn.state.flow != self.name:
            return False
        meant = kit.word(text)
        if meant == "cancel":
            self._quit(turn)
        elif meant == "back":
            await self._back(turn)
        elif turn.state.step == "teachers" and (teacher_id := await self._teacher_named(turn, text)):
            await self._pick_teacher(turn, teacher_id)
        elif turn.state.step == "child" and (name := child_name(text)) and len(name.split()) <= NAME_WORDS:
            await self._take_child(turn, name)  # short: a name (the matcher reads "Hoa" as "hola")
        elif turn.state.step == "child" and not await kit.new_question(turn, text):
            if name := child_name(text):  # longer, and not a question ("when is the conference")
                await self._take_child(turn, name)
            else:
                turn.say(CHILD_AGAIN)
                await self._ask_child(turn)
        elif await kit.new_question(turn, text):
            kit.leave(turn, KEY)  # nothing is held: the engine answers the new question
            return False
        else:
            turn.say(kit.USE_BUTTONS)
            await self._show(turn)
        return True

    async def _teacher_named(self, turn: Turn, text: str) -> str | None:
        """A typed teacher name or class ('rivera', 'kindergarten') that fits exactly one teacher."""
        wanted = normalize(text)
        if len(wanted) < 3:
            return None
        rows, mine = await self._db.run(store.teacher_list, kit.now_iso(turn), turn.family.id)
        hits = [t.id for t, free in rows if (free or t.id in mine) and (
            wanted in normalize(t.name) or wanted == normalize(t.class_name) or wanted in normalize(t.name).split())]
        return hits[0] if len(hits) == 1 else None

    async def on_payload(self, turn: Turn, payload: Payload) -> bool:
        action, value = payload.action, payload.value
        if action == "start":
            await self.start(turn)
            return True
        if turn.state.flow != self.name or KEY not in turn.state.data:
            return await self._reopen(turn, action, value)
        if action == "quit":
            self._quit(turn)
        elif action == "back":
            await self._back(turn)
        elif action == "tpage":
            await self._teachers(turn, kit.as_int(value) or 0)
        elif action == "t":
            await self._pick_teacher(turn, value)
        elif action == "c":
            await self._pick_child(turn, kit.as_int(value))
        elif action == "k":
            await self._pick_class(turn, kit.as_int(value))
        elif action == "resched":
            self._data(turn)["resched"] = True
            await self._days(turn)
        elif action == "keep":
            await self._keep(turn)
        elif action == "d":
            await self._pick_day(turn, value)
        elif action == "sp":
            await self._slots(turn, kit.as_int(value) or 0)
        elif action == "s":
            await self._pick_slot(turn, kit.as_int(value))
        elif action == "confirm":
            await self._confirm(turn, value)
        else:
            return False
        return True

    async def _reopen(self, turn: Turn, action: str, value: str) -> bool:
        """A teacher or time button on a message from a booking flow that has ended still means
        what it said: start there again (a taken, past or removed time shows that day's free
        times; a family that already has a conference with that teacher is asked to move or keep
        it first). Other steps' buttons do not (the engine says the option expired)."""
        if action == "t" and value:
            await self.start(turn, value)
            return True
        slot_id = kit.as_int(value) if action == "s" else None
        if slot_id is None:
            return False
        view = await self._db.run(store.slot_view, slot_id, turn.family.id)
        if view.slot is None or view.teacher is None:
            return False
        if view.existing is not None and store.iso(view.existing.ends_at) > kit.now_iso(turn):
            await self.start(turn, view.teacher.id)  # move or keep the one they have
            return True
        turn.state.flow, turn.state.step = self.name, "slots"
        turn.state.data[KEY] = {"teacher": view.teacher.id, "day": view.slot.starts_at.date().isoformat()}
        await self._pick_slot(turn, slot_id)
        return True

    # -- steps -------------------------------------------------------------------------------
    @property
    def _db(self):
        return self.s.db

    def _data(self, turn: Turn) -> dict:
        return turn.state.space(KEY)

    async def _show(self, turn: Turn) -> None:
        await STEPS.show(self, turn)

    async def _teachers(self, turn: Turn, number: int = 0) -> None:
        rows, mine = await self._db.run(store.teacher_list, kit.now_iso(turn), turn.family.id)
        rows = [(t, free) for t, free in rows if free or t.id in mine]
        if not rows:
            kit.leave(turn, KEY)
            turn.say(NO_TEACHERS, kit.after_choices())
            return
        data = self._data(turn)
        for key in ("teacher", "child", "child_class", "day", "one_day", "slot", "token", "resched", "from_mine",
                    "page"):
            data.pop(key, None)
        items, number, earlier, later = kit.page(rows, number, PER_PAGE)
        data["tpage"] = number
        turn.state.flow, turn.state.step = self.name, "teachers"
        choices: list = []
        for teacher, free in items:
            values = {"teacher": teacher.name, "class_name": _class_or_place(teacher)}
            label = TEACHER_MINE if teacher.id in mine else TEACHER_LABEL
            choices.append((Text(label, values), Payload("conference", "t", teacher.id)))
        choices += kit.paging(self.name, "tpage", number, earlier, later)
        choices += kit.nav(self.name, back=False)
        turn.say(TEACHERS, choices)

    async def _view(self, turn: Turn, teacher_id: str) -> store.TeacherView:
        return await self._db.run(store.teacher_view, teacher_id, kit.now_iso(turn), turn.family.id)

    async def _pick_teacher(self, turn: Turn, teacher_id: str, view: store.TeacherView | None = None) -> None:
        view = view or await self._view(turn, teacher_id)
        teacher = view.teacher
        if teacher is None or not teacher.active:
            turn.say(TEACHER_GONE)
            await self._teachers(turn)
            return
        data = self._data(turn)
        data["teacher"] = teacher.id
        item = view.existing
        if item is not None and not data.get("resched") and store.iso(item.ends_at) > kit.now_iso(turn):
            turn.state.flow, turn.state.step = self.name, "has_booking"
            turn.say(Text(HAS_BOOKING, {"teacher": teacher.name,
                                        "when": fmt.when(item.starts_at, item.ends_at, turn.lang)}),
                     [(MOVE, Payload("conference", "resched")), (KEEP, Payload("conference", "keep")), *kit.nav(self.name)])
            return
        if data.get("resched"):  # a move keeps the booking's child and class
            await self._days(turn, view)
        else:
            await self._ask_child(turn, teacher)

    # -- whose conference: the child (remembered), and the class where the teacher has several ----
    async def _ask_child(self, turn: Turn, teacher: store.Teacher | None = None) -> None:
        data = self._data(turn)
        teacher = teacher or await self._db.run(store.get_teacher, data.get("teacher", ""))
        if teacher is None or not teacher.active:
            turn.say(TEACHER_GONE)
            await self._teachers(turn)
            return
        data.pop("child", None)
        data.pop("child_class", None)
        known = await self._db.run(children.children, turn.family.id)
        turn.state.flow, turn.state.step = self.name, "child"
        choices: list = [(Text(c.name, kind="fixed"), Payload("conference", "c", c.id)) for c in known[:PER_PAGE]]
        choices += kit.nav(self.name)
        turn.say(Text(CHILD_KNOWN if known else CHILD, {"teacher": teacher.name}), choices)

    async def _pick_child(self, turn: Turn, child_id: int | None) -> None:
        known = {c.id: c for c in await self._db.run(children.children, turn.family.id)}
        child = known.get(child_id or 0)
        if child is None or turn.state.step != "child":
            await self._show(turn)
            return
        await self._take_child(turn, child.name, child)

    async def _take_child(self, turn: Turn, name: str, known: children.Child | None = None) -> None:
        data = self._data(turn)
        data["child"] = name
        teacher = await self._db.run(store.get_teacher, data.get("teacher", ""))
        if teacher is not None and teacher.classes:
            # the class this child was in with this teacher last time is not asked again
            if known and known.teacher_id == teacher.id and known.class_name in teacher.classes:
                data["child_class"] = known.class_name
            else:
                await self._classes(turn, teacher)
                return
        await self._after_child(turn)

    async def _after_child(self, turn: Turn) -> None:
        """The days next, or straight to the check when a time was picked before the child."""
        data = self._data(turn)
        if data.get("slot"):
            await self._pick_slot(turn, data["slot"])
        else:
            await self._days(turn)

    async def _classes(self, turn: Turn, teacher: store.Teacher | None = None) -> None:
        data = self._data(turn)
        teacher = teacher or await self._db.run(store.get_teacher, data.get("teacher", ""))
        if teacher is None or not teacher.classes:
            await self._days(turn)
            return
        data.pop("child_class", None)
        turn.state.flow, turn.state.step = self.name, "class"
        choices: list = [(Text(name, kind="fixed"), Payload("conference", "k", n))
                         for n, name in enumerate(teacher.classes)]
        choices += kit.nav(self.name)
        turn.say(Text(CLASS, {"teacher": teacher.name, "child": data.get("child", "")}), choices)

    async def _pick_class(self, turn: Turn, number: int | None) -> None:
        data = self._data(turn)
        teacher = await self._db.run(store.get_teacher, data.get("teacher", ""))
        if turn.state.step != "class" or teacher is None or number is None or not 0 <= number < len(teacher.classes):
            await self._show(turn)
            return
        data["child_class"] = teacher.classes[number]
        await self._after_child(turn)

    async def _keep(self, turn: Turn) -> None:
        view = await self._view(turn, self._data(turn).get("teacher", ""))
        teacher, item = view.teacher, view.existing
        kit.leave(turn, KEY)
        if teacher is None or item is None:
            turn.say(UNCHANGED, kit.after_choices())
            return
        turn.say(Text(KEPT, {"teacher": teacher.name, "when": fmt.when(item.starts_at, item.ends_at, turn.lang)}),
                 kit.after_choices())

    async def _days(self, turn: Turn, view: store.TeacherView | None = None) -> None:
        data = self._data(turn)
        view = view or await self._view(turn, data.get("teacher", ""))
        teacher = view.teacher
        if teacher is None or not teacher.active:
            turn.say(TEACHER_GONE)
            await self._teachers(turn)
            return
        slots = view.free
        if not slots:
            turn.say(Text(TEACHER_NO_TIMES, {"teacher": teacher.name}))
            if data.get("resched"):
                kit.leave(turn, KEY)
                turn.say(UNCHANGED, kit.after_choices())
            else:
                await self._teachers(turn)
            return
        for key in ("day", "one_day", "slot", "token", "page"):
            data.pop(key, None)
        days: dict[date, int] = {}
        for slot in slots:
            days[slot.starts_at.date()] = days.get(slot.starts_at.date(), 0) + 1
        if len(days) == 1:  # one day: nothing to pick, straight to its times
            data["day"], data["one_day"] = next(iter(days)).isoformat(), True
            await self._slots(turn)
            return
        turn.state.flow, turn.state.step = self.name, "days"
        choices: list = [(Text(DAY_LABEL, {"day": fmt.day(d, turn.lang), "count": n}), Payload("conference", "d", d.isoformat()))
                         for d, n in sorted(days.items())]
        choices += kit.nav(self.name)
        turn.say(Text(DAYS, {"teacher": teacher.name, "class_name": _class_or_place(teacher)}), choices)

    async def _pick_day(self, turn: Turn, value: str) -> None:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            await self._days(turn)
            return
        self._data(turn)["day"] = day.isoformat()
        await self._slots(turn)

    async def _slots(self, turn: Turn, number: int = 0, notice: str | None = None) -> None:
        data = self._data(turn)
        view = await self._view(turn, data.get("teacher", ""))
        teacher = view.teacher
        if teacher is None or not teacher.active:
            turn.say(TEACHER_GONE)
            await self._teachers(turn)
            return
        day = data.get("day")
        slots = [s for s in view.free if s.starts_at.date().isoformat() == day]
        if notice:
            turn.say(notice)
        if not slots:  # the day filled up: pick another day
            await self._days(turn, view)
            return
        for key in ("slot", "token"):
            data.pop(key, None)
        items, number, earlier, later = kit.page(slots, number, PER_PAGE)
        data["page"] = number
        turn.state.flow, turn.state.step = self.name, "slots"
        choices: list = [(Text(fmt.clock(s.starts_at, turn.lang), kind="fixed"), Payload("conference", "s", s.id)) for s in items]
        choices += kit.paging(self.name, "sp", number, earlier, later)
        choices += kit.nav(self.name)
        turn.say(Text(SLOTS, {"teacher": teacher.name, "day": fmt.day(slots[0].starts_at, turn.lang)}), choices)

    async def _pick_slot(self, turn: Turn, slot_id: int | None) -> None:
        data = self._data(turn)
        view = await self._db.run(store.slot_view, slot_id or 0, turn.family.id)
        slot = view.slot
        if slot is None or not slot.active or slot.teacher_id != data.get("teacher"):
            await self._slots(turn, data.get("page", 0), SLOT_GONE)
            return
        if store.iso(slot.starts_at) <= kit.now_iso(turn):
            await self._slots(turn, data.get("page", 0), SLOT_PAST)
            return
        if slot.booked_by is not None:
            await self._slots(turn, data.get("page", 0), SLOT_TAKEN)
            return
        data["slot"] = slot.id
        if not data.get("child") and not data.get("resched"):  # e.g. a time button from an earlier flow
            await self._ask_child(turn, view.teacher)
            return
        await self._check(turn, view)

    def _note_interpreter(self, turn: Turn, teacher: store.Teacher) -> Text | None:
        if turn.lang in teacher.languages:
            return None
        return Text(NOTE_INTERPRETER, {"teacher": teacher.name,
                                       "language": fmt.language_in_sentence(turn.lang, turn.lang)})

    async def _check(self, turn: Turn, view: store.SlotView | None = None) -> None:
        data = self._data(turn)
        view = view or await self._db.run(store.slot_view, data.get("slot") or 0, turn.family.id)
        slot, teacher = view.slot, view.teacher
        if slot is None or teacher is None or not slot.active or not teacher.active:
            await self._slots(turn, data.get("page", 0), SLOT_GONE)
            return
        lang = turn.lang
        notes = [n for n in [self._note_interpreter(turn, teacher)] if n]
        if data.get("resched"):
            old = view.existing
            if old is not None:
                notes.append(Text(NOTE_MOVE, {"when": fmt.when(old.starts_at, old.ends_at, lang)}))
        data["token"] = kit.token()
        turn.state.step = "confirm"
        child, child_class = self._child(data, view.existing)
        values = {"teacher": teacher.name, "class_name": _class(teacher, child_class), "place": _place(teacher),
                  "when": fmt.when(slot.starts_at, slot.ends_at, lang), "name": self._name(turn, child),
                  "language": fmt.language_label(lang), "note": joined(notes, "\n\n", prefix="\n\n")}
        if child:
            values["child"] = child
        turn.say(Text(CHECK_CHILD if child else CHECK, values),
                 [(CONFIRM, Payload("conference", "confirm", data['token'])), *kit.nav(self.name)])

    def _child(self, data: dict, existing: store.Item | None) -> tuple[str | None, str | None]:
        """The child (and class) picked, or on a move the booking's own."""
        if data.get("child"):
            return data["child"], data.get("child_class")
        if data.get("resched") and existing is not None:
            return existing.booking.child_name, existing.booking.child_class
        return None, None

    def _name(self, turn: Turn, child: str | None = None) -> str:
        """The name staff see on the teacher's list and the export: the chat name, else the
        child's family (staff can place that), else a number that says no name was given."""
        return kit.name_for(turn) or staff_label(turn.family.id, child)

    async def _confirm(self, turn: Turn, token: str) -> None:
        data = self._data(turn)
        if turn.state.step != "confirm" or not token or token != data.get("token"):
            turn.say(kit.EXPIRED)
            await self._show(turn)
            return
        key = f"{turn.family.id}:{token}"
        args = (turn.family.id, data["slot"], self._name(turn, data.get("child")), turn.lang, key, kit.now_iso(turn),
                bool(data.get("resched")), data.get("child"), data.get("child_class"))

        def book(conn):  # the booking, and what the reply shows about it, in one trip
            result = booking.book_slot(conn, *args)
            ok = result.status == "confirmed" and result.booking is not None
            return result, (store.slot_view(conn, result.booking.slot_id, args[0]) if ok else None)

        try:
            result, view = await self._db.transact(book)
        except booking.SlotTaken:
            result, view = booking.Result("taken"), None
        status = result.status
        if status == "confirmed" and view is not None:
            kit.leave(turn, KEY)
            await self._done(turn, result, view)
        elif status == "already":
            kit.leave(turn, KEY)
            turn.say(ALREADY, kit.after_choices())
        elif status == "has_booking":
            data.pop("token", None)
            await self._pick_teacher(turn, data.get("teacher", ""))
        elif status == "taken":
            await self._slots(turn, data.get("page", 0), SLOT_TAKEN)
        elif status == "past":
            await self._slots(turn, data.get("page", 0), SLOT_PAST)
        elif status == "gone":
            await self._slots(turn, data.get("page", 0), SLOT_GONE)
        else:
            kit.leave(turn, KEY)
            turn.say(UNCHANGED, kit.after_choices())

    async def _done(self, turn: Turn, result: booking.Result, view: store.SlotView) -> None:
        assert result.booking is not None
        item, teacher = view.existing, view.teacher
        lang = turn.lang
        b = result.booking
        child, class_name = b.child_name, _class(teacher, b.child_class)
        moved = result.previous is not None
        body = (MOVED_CHILD if moved else DONE_CHILD) if child else (MOVED if moved else DONE)
        note = self._note_interpreter(turn, teacher)
        values = {"teacher": teacher.name, "class_name": class_name, "place": _place(teacher),
                  "when": fmt.when(item.starts_at, item.ends_at, lang), "note": joined([note] if note else [], prefix="\n\n")}
        if child:
            values["child"] = child
        details = [*([Text(ICS_CHILD, {"child": child})] if child else []),
                   Text(ICS_DETAILS, {"class_name": class_name, "name": b.name, "language": fmt.language_label(lang)})]
        # the calendar file is made before the reply is localized, so its words are rendered here
        summary, description = await self.s.render(lang, Text(SUMMARY, {"teacher": teacher.name}),
                                                   joined([*details, *([note] if note else [])]))
        content = ics.calendar(f"{b.uid}@{self.s.uid_domain}", item.starts_at, item.ends_at, summary, teacher.place,
                               description, turn.now, url=teacher.video_link, sequence=b.calendar_sequence,
                               organizer=self.s.organizer)
        filename = f"conference-{item.starts_at:%Y-%m-%d}.ics"
        turn.say(Text(body, values), kit.after_choices(), attachment=ics.attachment(filename, content))

    async def _back(self, turn: Turn) -> None:
        if not await STEPS.back(self, turn):
            self._quit(turn)

    def _quit(self, turn: Turn) -> None:
        changing = bool(self._data(turn).get("resched"))
        kit.leave(turn, KEY)
        turn.say(UNCHANGED if changing else STOPPED, kit.after_choices())


def _before_days(picks: dict) -> str | None:
    """Back from the days (or the times of a teacher's one day): the step before them."""
    if picks.get("from_mine"):  # a change started from /mysignups: Back leaves it unchanged
        return None
    if picks.get("resched"):
        return "teachers"
    return "class" if picks.get("child_class") else "child"


# The steps in order: how each is asked again, and where Back goes from it.
STEPS = kit.Steps("teachers", {
    "teachers": kit.Step(lambda flow, turn, picks: flow._teachers(turn, picks.get("tpage", 0)), back=None),
    "has_booking": kit.Step(lambda flow, turn, picks: flow._pick_teacher(turn, picks.get("teacher", "")),
                            back="teachers"),
    "child": kit.Step(lambda flow, turn, picks: flow._ask_child(turn), back="teachers"),
    "class": kit.Step(lambda flow, turn, picks: flow._classes(turn), back="child"),
    "days": kit.Step(lambda flow, turn, picks: flow._days(turn), back=_before_days),
    "slots": kit.Step(lambda flow, turn, picks: flow._slots(turn, picks.get("page", 0)),
                      back=lambda picks: _before_days(picks) if picks.get("one_day") else "days"),
    "confirm": kit.Step(lambda flow, turn, picks: flow._check(turn), back="slots"),
})


def child_name(text: str) -> str | None:
    """A typed child's name ('mai nguyen' → 'Mai Nguyen'), or None when it does not look like one
    (a question, a number, a long sentence)."""
    name = " ".join(text.split()).strip(" .,")
    if not name or len(name) > MAX_CHILD or len(name.split()) > 4 or _NOT_A_NAME.search(name) \
            or not any(ch.isalpha() for ch in name) or kit.word(name):
        return None
    return name.title() if name == name.lower() and name.isascii() else name


# The school's words for a class and a room ("5th grade", "Room 8") go into replies as staff
# texts, curated or machine translated like other staff words; a video link stays as written.
def _class(teacher, picked: str | None = None) -> Text:
    """The teacher's class, or the one of the teacher's classes the family picked."""
    return fmt.staff(picked or teacher.class_name)


def _place(teacher) -> Text | str:
    return fmt.staff(teacher.room) if teacher.room else teacher.place


def _class_or_place(teacher) -> Text | str:
    return _class(teacher) if teacher.class_name else _place(teacher)
