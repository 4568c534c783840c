"""Volunteer sign-up, with buttons: opportunities → shifts (seats left, or "full — join the
waitlist") → the name for the list → confirm → confirmation with a calendar file.

Nothing is held until the final confirm, which is one transaction (`booking.book_shift`);
until then the flow only keeps what was picked in the conversation state. Every pick is
checked again against the store when it arrives, so a shift that filled, started or was
removed meanwhile gets a clear message and the current choices again.

State: `turn.state.step` is opportunities | shifts | name | confirm; the picks live in
`turn.state.space("volunteer")` (opp, shift, name, token, waitlist, replace, and when changing a
sign-up, `kept_name`: the name already on the list, used again instead of asking).
"""

from __future__ import annotations

from bot.core.payloads import Payload
from bot.core.dialog import Turn
from bot.core.localize import Text, joined
from bot.i18n import N_
from bot.signups import booking, ics, store
from bot.signups import flowkit as kit
from bot.signups import text as fmt
from bot.signups.flowkit import CONFIRM, STOPPED, UNCHANGED

KEY = "volunteer"
PER_PAGE = 6
MAX_NAME = 100

LIST = N_("Thank you for wanting to help! Here is where volunteers are needed. Pick one to see the times:")
NONE_OPEN = N_("There are no volunteer sign-ups open right now. Please check again later.")
GONE = N_("Sorry, that volunteer opportunity is no longer available.")
SHIFTS = N_("{title}\n\n{details}\n\nPick a time:")
SHIFTS_CHANGE = N_("Pick a new time for {title}:")
SEATS = N_("{when} · {seats} left")
FULL = N_("{when} · full, join the waitlist")
MINE = N_("✓ {when} (you are signed up)")
MINE_WAITING = N_("⏳ {when} (you are on the waitlist)")
SHIFT_GONE = N_("Sorry, that time is no longer offered. Here are the times still open:")
SHIFT_PAST = N_("Sorry, that time has already started or passed. Here are the times still open:")
ALREADY = N_("You are already signed up for that time. To change or cancel it, type /mysignups.")
ASK_NAME = N_("What name should we put on the list? Tap the button to use {name}, or type another name.")
ASK_NAME_TYPE = N_("What name should we put on the list? Please type it.")
USE_NAME = N_("Use {name}")
BAD_NAME = N_("Please type a name between 1 and {max} characters.")
CHECK = N_("Please check your sign-up:\n\n{title}\n🗓 {when}\n📍 {location}\n👤 {name}{note}")
NOTE_WAITLIST = N_("This time is full, so you will join the waitlist.")
NOTE_REPLACE = N_("This replaces your sign-up for {when}.")
JOIN_WAITLIST = N_("✅ Join the waitlist")
DONE = N_("You're signed up! ✅\n\n{title}\n🗓 {when}\n📍 {location}{details}\n👤 {name}\n\n"
          "A calendar file is attached. To change or cancel, type /mysignups.")
MOVED = N_("Your sign-up was moved. ✅\n\n{title}\n🗓 {when}\n📍 {location}{details}\n👤 {name}\n\n"
           "A calendar file is attached. To change or cancel, type /mysignups.")
WAITLISTED = N_("You are on the waitlist for {title} on {when}, at position {position}. If a place opens up, "
                "we will sign you up and tell you here.")
JUST_FILLED = N_("Sorry, the last place on that time was just taken, so you are on the waitlist at position "
                 "{position}. If a place opens up, we will sign you up and tell you here.")
LEAVE_WAITLIST = N_("Leave the waitlist")
NOT_ACTIVE = N_("That sign-up is no longer active.")
DECLINED = N_("Thank you for letting us know. We have offered your place to the next family on the waitlist.")
ALREADY_CANCELLED = N_("That sign-up was already cancelled.")
REQUIREMENTS = N_("Requirements: {requirements}")
WHERE = N_("Where: {location}")
WHO = N_("Who may sign up: {who}")
BRING = N_("What to bring: {bring}")
ICS_NAME = N_("Name on the list: {name}")


def _question_like(text: str) -> bool:
    """At the name step, only text that looks like a sentence is checked for a new question."""
    return text.rstrip().endswith(("?", "？", "؟")) or len(text.split()) >= 5


class VolunteerFlow:
    name = "volunteer"

    def __init__(self, signups) -> None:
        self.s = signups

    # -- the Flow protocol -----------------------------------------------------------------
    async def start(self, turn: Turn, arg: str | None = None) -> None:
        turn.state.flow, turn.state.step = self.name, "opportunities"
        turn.state.data[KEY] = {}
        if arg:
            opp_id = arg.strip().lower()
            if any(o.id == opp_id for o, _ in await self._open(turn)):
                turn.state.data[KEY]["opp"] = opp_id
                await self._shifts(turn)
                return
        await self._list(turn)

    async def change(self, turn: Turn, item: store.Item) -> None:
        """Move an existing booking to another shift of the same opportunity (from /mysignups)."""
        turn.state.flow = self.name
        turn.state.data[KEY] = {"opp": item.opportunity_id, "replace": item.booking.id,
                                "kept_name": item.booking.name}
        await self._shifts(turn)

    async def on_text(self, turn: Turn, text: str) -> bool:
        if turn.state.flow != self.name:
            return False
        meant = kit.word(text)
        if meant == "cancel":
            self._quit(turn)
        elif meant == "back":
            await self._back(turn)
        elif turn.state.step == "name" and not (_question_like(text) and await kit.new_question(turn, text)):
            await self._typed_name(turn, text)
        elif await kit.new_question(turn, text):
            kit.leave(turn, KEY)  # nothing is held: the engine answers the new question
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
        if action == "decline":
            await self._decline(turn, kit.as_int(value))
            return True
        if turn.state.flow != self.name or KEY not in turn.state.data:
            return await self._reopen(turn, action, value)
        if action == "quit":
            self._quit(turn)
        elif action == "back":
            await self._back(turn)
        elif action == "page":
            await self._list(turn, kit.as_int(value) or 0)
        elif action == "opp":
            await self._pick_opportunity(turn, value)
        elif action == "spage":
            await self._shifts(turn, kit.as_int(value) or 0)
        elif action == "shift":
            await self._pick_shift(turn, kit.as_int(value))
        elif action == "name":
            await self._set_name(turn, kit.name_for(turn))
        elif action == "confirm":
            await self._confirm(turn, value)
        else:
            return False
        return True

    async def _reopen(self, turn: Turn, action: str, value: str) -> bool:
        """An opportunity or shift button on a message from a sign-up that has ended still means
        what it said: start there again, while the shift exists and has not started (a full one
        offers the waitlist, as on the current message) — unless the family is already signed up
        for that opportunity (the button may have been a "change my time" one). Other steps'
        buttons do not (the engine says the option expired)."""
        if action == "opp" and value:
            await self.start(turn, value)  # an opportunity that is gone lists the open ones
            return True
        shift_id = kit.as_int(value) if action == "shift" else None
        if shift_id is None:
            return False
        view = await self._db.run(store.shift_view, shift_id, turn.family.id, None)
        if view.shift is None:
            return False
        mine = await self._db.run(store.family_items, turn.family.id, kit.now_iso(turn))
        if any(item.opportunity_id == view.shift.opportunity_id for item in mine):
            return False  # maybe a "pick a new time" list: never a second booking by accident
        turn.state.flow, turn.state.step = self.name, "shifts"
        turn.state.data[KEY] = {"opp": view.shift.opportunity_id}
        await self._pick_shift(turn, shift_id)
        return True

    # -- steps -------------------------------------------------------------------------------
    @property
    def _db(self):
        return self.s.db

    async def _open(self, turn: Turn) -> list[tuple[store.Opportunity, int]]:
        return await self._db.run(store.open_opportunities, kit.now_iso(turn))

    def _data(self, turn: Turn) -> dict:
        return turn.state.space(KEY)

    async def _show(self, turn: Turn) -> None:
        """Say the current step again (after a notice)."""
        await STEPS.show(self, turn)

    async def _list(self, turn: Turn, number: int = 0) -> None:
        opps = await self._open(turn)
        if not opps:
            kit.leave(turn, KEY)
            turn.say(NONE_OPEN, kit.after_choices())
            return
        data = self._data(turn)
        for key in ("opp", "shift", "name", "token", "waitlist"):
            data.pop(key, None)
        items, number, earlier, later = kit.page(opps, number, PER_PAGE)
        data["lpage"] = number
        turn.state.flow, turn.state.step = self.name, "opportunities"
        choices: list = [(fmt.staff(o.title), Payload("volunteer", "opp", o.id)) for o, _ in items]
        choices += kit.paging(self.name, "page", number, earlier, later)
        choices += kit.nav(self.name, back=False)
        turn.say(LIST, choices)

    async def _pick_opportunity(self, turn: Turn, opp_id: str) -> None:
        if not any(o.id == opp_id for o, _ in await self._open(turn)):
            turn.say(GONE)
            await self._list(turn)
            return
        self._data(turn)["opp"] = opp_id
        await self._shifts(turn)

    async def _shifts(self, turn: Turn, number: int = 0) -> None:
        data = self._data(turn)
        opp_id = data.get("opp")
        opp, shifts = await self._db.run(store.opportunity_view, opp_id or "", kit.now_iso(turn), turn.family.id)
        if opp is None or not opp.active or not shifts:
            if data.get("replace"):
                kit.leave(turn, KEY)
                turn.say(GONE, kit.after_choices())
                return
            turn.say(GONE)
            await self._list(turn)
            return
        for key in ("shift", "name", "token", "waitlist"):
            data.pop(key, None)
        items, number, earlier, later = kit.page(shifts, number, PER_PAGE)
        data["page"] = number
        turn.state.flow, turn.state.step = self.name, "shifts"
        lang = turn.lang
        choices: list = []
        for shift in items:
            when = fmt.when(shift.starts_at, shift.ends_at, lang)
            if shift.mine:
                label = Text(MINE_WAITING if shift.mine_waitlisted else MINE, {"when": when})
            elif shift.seats_left > 0:
                label = Text(SEATS, {"when": when, "seats": shift.seats_left})
            else:
                label = Text(FULL, {"when": when})
            choices.append((label, Payload("volunteer", "shift", shift.id)))
        choices += kit.paging(self.name, "spage", number, earlier, later)
        choices += kit.nav(self.name)
        title = fmt.staff(opp.title)
        if data.get("replace"):
            turn.say(Text(SHIFTS_CHANGE, {"title": title}), choices)
        else:
            turn.say(Text(SHIFTS, {"title": title, "details": self._details(opp)}), choices)

    def _details(self, opp: store.Opportunity) -> Text:
        """The opportunity's description and particulars (in the language of the sentence around)."""
        lines: list[Text] = []
        if opp.description:
            lines.append(fmt.staff(opp.description))
        if opp.location:
            lines.append(Text(WHERE, {"location": fmt.staff(opp.location)}))
        return joined([*lines, *_particulars(opp.requirements, opp.who_may_sign_up, opp.bring)])

    async def _pick_shift(self, turn: Turn, shift_id: int | None) -> None:
        data = self._data(turn)
        view = await self._db.run(store.shift_view, shift_id or 0, turn.family.id, data.get("replace"))
        shift, opp = view.shift, view.opportunity
        if shift is None or opp is None or shift.opportunity_id != data.get("opp") or not shift.active \
                or not opp.active:
            turn.say(SHIFT_GONE)
            await self._shifts(turn)
            return
        if store.iso(shift.starts_at) <= kit.now_iso(turn):
            turn.say(SHIFT_PAST)
            await self._shifts(turn)
            return
        if view.mine is not None:
            turn.say(ALREADY)
            await self._shifts(turn, data.get("page", 0))
            return
        data["shift"] = shift.id
        data["waitlist"] = shift.seats_left == 0
        if data.get("replace") and data.get("kept_name"):  # a move keeps the name already given
            await self._set_name(turn, data["kept_name"])
            return
        await self._ask_name(turn)

    async def _ask_name(self, turn: Turn) -> None:
        turn.state.step = "name"
        name = kit.name_for(turn)
        if name:
            turn.say(Text(ASK_NAME, {"name": name}),
                     [(Text(USE_NAME, {"name": name}), Payload("volunteer", "name")), *kit.nav(self.name)])
        else:
            turn.say(ASK_NAME_TYPE, kit.nav(self.name))

    async def _typed_name(self, turn: Turn, typed: str) -> None:
        name = " ".join(typed.split())
        if not name or len(name) > MAX_NAME:
            turn.say(Text(BAD_NAME, {"max": MAX_NAME}))
            await self._ask_name(turn)
            return
        await self._set_name(turn, name)

    async def _set_name(self, turn: Turn, name: str) -> None:
        if not name:
            await self._ask_name(turn)
            return
        self._data(turn)["name"] = name
        await self._check(turn)

    async def _check(self, turn: Turn) -> None:
        data = self._data(turn)
        view = await self._db.run(store.shift_view, data.get("shift") or 0, turn.family.id, data.get("replace"))
        shift, opp = view.shift, view.opportunity
        if shift is None or opp is None or not shift.active or not opp.active:
            turn.say(SHIFT_GONE)
            await self._shifts(turn)
            return
        lang = turn.lang
        data["token"] = kit.token()
        data["waitlist"] = shift.seats_left == 0
        turn.state.step = "confirm"
        notes = []
        if data["waitlist"]:
            notes.append(Text(NOTE_WAITLIST))
        if data.get("replace"):
            old = view.replacing
            if old is not None:
                notes.append(Text(NOTE_REPLACE, {"when": fmt.when(old.starts_at, old.ends_at, lang)}))
        values = {"title": fmt.staff(opp.title), "when": fmt.when(shift.starts_at, shift.ends_at, lang),
                  "location": fmt.staff(opp.location), "name": data["name"],
                  "note": joined(notes, "\n\n", prefix="\n\n")}
        button = JOIN_WAITLIST if data["waitlist"] else CONFIRM
        turn.say(Text(CHECK, values), [(button, Payload("volunteer", "confirm", data['token'])), *kit.nav(self.name)])

    async def _confirm(self, turn: Turn, token: str) -> None:
        data = self._data(turn)
        if turn.state.step != "confirm" or not token or token != data.get("token"):
            turn.say(kit.EXPIRED)
            await self._show(turn)
            return
        key = f"{turn.family.id}:{token}"
        args = (turn.family.id, data["shift"], data["name"], turn.lang, key, kit.now_iso(turn), data.get("replace"),
                self.s.notifier)

        def book(conn):  # the booking, and what the reply shows about it, in one trip
            result = booking.book_shift(conn, *args)
            return result, (store.item(conn, result.booking.id) if result.booking else None)

        result, item = await self._db.transact(book)
        if result.promoted:
            self.s.wake()
        status = result.status
        if status in ("confirmed", "waitlisted") and result.booking is not None:
            expected_seat = not data.get("waitlist")
            kit.leave(turn, KEY)
            if status == "confirmed":
                await self._done(turn, result, item)
            else:
                values = {"title": fmt.staff(item.title),
                          "when": fmt.when(item.starts_at, item.ends_at, turn.lang),
                          "position": result.booking.position}
                turn.say(Text(JUST_FILLED if expected_seat else WAITLISTED, values),
                         [(LEAVE_WAITLIST, Payload("mysignups", "cancel", result.booking.id)), *kit.after_choices()])
        elif status == "already":
            kit.leave(turn, KEY)
            turn.say(ALREADY, kit.after_choices())
        elif status == "past":
            turn.say(SHIFT_PAST)
            await self._shifts(turn)
        elif status == "gone":
            turn.say(SHIFT_GONE)
            await self._shifts(turn)
        else:  # the booking to replace was cancelled meanwhile, or a duplicate of a cancelled one
            kit.leave(turn, KEY)
            turn.say(NOT_ACTIVE, kit.after_choices())

    async def _done(self, turn: Turn, result: booking.Result, item: store.Item) -> None:
        assert result.booking is not None
        lang = turn.lang
        body = MOVED if result.previous is not None else DONE
        particulars = _particulars(item.requirements, None, item.bring)
        title, location = fmt.staff(item.title), fmt.staff(item.place)
        values = {"title": title, "when": fmt.when(item.starts_at, item.ends_at, lang), "location": location,
                  "details": joined(particulars, prefix="\n"), "name": result.booking.name}
        description = joined([*([fmt.staff(item.description)] if item.description else []), *particulars,
                              Text(ICS_NAME, {"name": result.booking.name})])
        # the calendar file is made before the reply is localized, so its words are rendered here
        title_s, location_s, description_s = await self.s.render(lang, title, location, description)
        content = ics.calendar(f"{result.booking.uid}@{self.s.uid_domain}", item.starts_at, item.ends_at, title_s,
                               location_s, description_s, turn.now, sequence=result.booking.calendar_sequence,
                               organizer=self.s.organizer)
        filename = f"volunteer-{item.starts_at:%Y-%m-%d}.ics"
        turn.say(Text(body, values), kit.after_choices(), attachment=ics.attachment(filename, content))

    async def _back(self, turn: Turn) -> None:
        if not await STEPS.back(self, turn):
            self._quit(turn)

    def _quit(self, turn: Turn) -> None:
        changing = bool(self._data(turn).get("replace"))
        kit.leave(turn, KEY)
        turn.say(UNCHANGED if changing else STOPPED, kit.after_choices())

    async def _decline(self, turn: Turn, booking_id: int | None) -> None:
        """The Decline button of a promotion message: give the seat up (it passes on)."""
        result = await self._db.transact(booking.cancel, turn.family.id, booking_id or 0, kit.now_iso(turn),
                                         self.s.notifier)
        if result.promoted:
            self.s.wake()
        if result.status == "cancelled":
            item = await self._db.run(store.item, result.booking.id)
            file = await self.s.cancel_file(turn.lang, item, result.booking, turn.now) if item else None
            turn.say(DECLINED, kit.after_choices(), attachment=file)
        elif result.status == "already_cancelled":
            turn.say(ALREADY_CANCELLED, kit.after_choices())
        else:
            turn.say(NOT_ACTIVE, kit.after_choices())


# The steps in order: how each is asked again, and where Back goes from it.
STEPS = kit.Steps("opportunities", {
    "opportunities": kit.Step(lambda flow, turn, picks: flow._list(turn, picks.get("lpage", 0)), back=None),
    # moving a sign-up (from /mysignups) starts at the shifts: Back leaves it unchanged
    "shifts": kit.Step(lambda flow, turn, picks: flow._shifts(turn, picks.get("page", 0)),
                       back=lambda picks: None if picks.get("replace") else "opportunities"),
    "name": kit.Step(lambda flow, turn, picks: flow._ask_name(turn), back="shifts"),
    # no name step when moving a sign-up that keeps its name
    "confirm": kit.Step(lambda flow, turn, picks: flow._check(turn),
                        back=lambda picks: "shifts" if picks.get("replace") and picks.get("kept_name") else "name"),
})


def _particulars(requirements, who: str | None, bring: str | None) -> list[Text]:
    """Requirements, who may sign up, what to bring: the lines that are set."""
    lines = []
    if requirements:
        reqs = [joined([fmt.staff(r.text), *([f" ({r.link})"] if r.link else [])], "") for r in requirements]
        lines.append(Text(REQUIREMENTS, {"requirements": joined(reqs, "; ")}))
    if who:
        lines.append(Text(WHO, {"who": fmt.staff(who)}))
    if bring:
        lines.append(Text(BRING, {"bring": fmt.staff(bring)}))
    return lines
