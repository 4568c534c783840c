"""`/mysignups`: everything the family has signed up for, each with Change and Cancel.

Also where the buttons of messages sent through the outbox land: a reminder's Cancel and
Still coming, a waitlist's Leave. Cancelling frees the seat at once and, in the same
transaction, promotes the first family on the waitlist. Every payload names a booking; it
is acted on only if the booking is this family's and still active.
"""

from __future__ import annotations

from bot.core import payloads
from bot.core.payloads import Payload
from bot.core.dialog import Turn
from bot.core.localize import Text, joined
from bot.i18n import N_
from bot.signups import booking, store
from bot.signups import flowkit as kit
from bot.signups import text as fmt

LIST = N_("Your sign-ups:\n\n{items}")
# {n} is the item's letter (A, B, …), never a number: the terminal numbers the buttons, and "1"
# must not mean both the first sign-up and the first button ("Change A")
NONE = N_("You have no upcoming sign-ups.")
LINE_VOLUNTEER = N_("{n}. {title}: {when} ({status})")
LINE_CONFERENCE = N_("{n}. Conference with {teacher}: {when} ({status})")
CONFIRMED = N_("confirmed")
WAITLIST = N_("waitlist, position {position}")
INTERPRETER = N_("interpreter: {language}")
CHANGE = N_("Change {n}")
CANCEL = N_("Cancel {n}")
VOLUNTEER = N_("Volunteer")
CONFERENCE = N_("Book a conference")
ASK = N_("Cancel your sign-up for {title} on {when}?")
YES = N_("Yes, cancel it")
NO = N_("No, keep it")
CANCELLED = N_("Done: your sign-up for {title} on {when} is cancelled.")
CANCEL_FILE = N_("Open the attached calendar file to take it off your calendar.")
ALREADY_CANCELLED = N_("That sign-up was already cancelled.")
NOT_FOUND = N_("I couldn't find that sign-up. Here is what you have now:")
PASSED = N_("That time has already passed.")
STILL_COMING = N_("Thank you! See you on {when}.")


class MySignupsFlow:
    name = "mysignups"

    def __init__(self, signups, volunteer, conference) -> None:
        self.s, self.volunteer, self.conference = signups, volunteer, conference

    async def start(self, turn: Turn, arg: str | None = None) -> None:
        await self._list(turn)

    async def on_text(self, turn: Turn, text: str) -> bool:
        return False  # the list keeps no state: typed text is a new question

    async def on_payload(self, turn: Turn, payload: Payload) -> bool:
        action, value = payload.action, payload.value
        if action == "list":
            await self._list(turn)
            return True
        booking_id = kit.as_int(value)
        if action not in ("ask", "cancel", "change", "keep") or booking_id is None:
            return False
        item = await self.s.db.run(store.item, booking_id)
        if item is None or item.booking.family_id != turn.family.id:
            await self._list(turn, NOT_FOUND)
            return True
        if item.booking.status == "cancelled":
            if action == "cancel":  # e.g. a second tap, or the engine redoing this turn: it is done
                self._cancelled(turn, item)
            else:
                await self._list(turn, ALREADY_CANCELLED)
            return True
        if store.iso(item.starts_at) <= kit.now_iso(turn):
            await self._list(turn, PASSED)
            return True
        if action == "ask":
            self._ask(turn, item)
        elif action == "cancel":
            await self._cancel(turn, item)
        elif action == "change":
            if item.booking.kind == "volunteer":
                await self.volunteer.change(turn, item)
            else:
                await self.conference.change(turn, item)
        else:  # keep: "Still coming" on a reminder
            turn.say(Text(STILL_COMING, {"when": fmt.when(item.starts_at, item.ends_at, turn.lang)}),
                     kit.after_choices())
        return True

    def _label(self, turn: Turn, item: store.Item) -> tuple[Text, str]:
        return fmt.staff(item.title), fmt.when(item.starts_at, item.ends_at, turn.lang)

    async def _list(self, turn: Turn, notice: str | None = None) -> None:
        if notice:
            turn.say(notice)
        items = await self.s.db.run(store.family_items, turn.family.id, kit.now_iso(turn))
        if turn.state.flow in ("volunteer", "conference"):
            turn.state.drop(turn.state.flow)
        turn.state.flow, turn.state.step = None, None
        starts = [(VOLUNTEER, Payload("volunteer", "start")), (CONFERENCE, Payload("conference", "start")), (kit.MENU, payloads.MENU)]
        if not items:
            turn.say(NONE, starts)
            return
        lines, choices = [], []
        for n, item in zip(kit.letters(), items):
            title, when = self._label(turn, item)
            b = item.booking
            status = [Text(CONFIRMED) if b.status == "confirmed" else Text(WAITLIST, {"position": b.position})]
            if b.kind == "conference":
                if b.language not in item.teacher_languages:
                    status.append(Text(INTERPRETER, {"language": fmt.language_label(b.language)}))
                lines.append(Text(LINE_CONFERENCE, {"n": n, "teacher": item.title, "when": when,
                                                    "status": joined(status, "; ")}))
            else:
                lines.append(Text(LINE_VOLUNTEER, {"n": n, "title": title, "when": when, "status": joined(status, "; ")}))
            choices.append((Text(CHANGE, {"n": n}), Payload("mysignups", "change", b.id)))
            choices.append((Text(CANCEL, {"n": n}), Payload("mysignups", "ask", b.id)))
        turn.say(Text(LIST, {"items": joined(lines)}), [*choices, *starts])

    def _ask(self, turn: Turn, item: store.Item) -> None:
        title, when = self._label(turn, item)
        turn.say(Text(ASK, {"title": title, "when": when}),
                 [(YES, Payload("mysignups", "cancel", item.booking.id)), (NO, Payload("mysignups", "list"))])

    async def _cancel(self, turn: Turn, item: store.Item) -> None:
        result = await self.s.db.transact(booking.cancel, turn.family.id, item.booking.id, kit.now_iso(turn),
                                          self.s.notifier)
        if result.promoted:
            self.s.wake()
        if result.status != "cancelled":
            await self._list(turn, ALREADY_CANCELLED if result.status == "already_cancelled" else NOT_FOUND)
            return
        self._cancelled(turn, item, await self.s.cancel_file(turn.lang, item, result.booking, turn.now))

    def _cancelled(self, turn: Turn, item: store.Item, file=None) -> None:
        for key in ("volunteer", "conference"):
            turn.state.drop(key)
        if turn.state.flow in ("volunteer", "conference"):
            turn.state.flow, turn.state.step = None, None
        title, when = self._label(turn, item)
        done = Text(CANCELLED, {"title": title, "when": when})
        turn.say(joined([done, Text(CANCEL_FILE)], " ") if file is not None else done, kit.after_choices(),
                 attachment=file)

