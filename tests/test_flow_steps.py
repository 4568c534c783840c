"""The flows' step tables: every Back leads to a step that exists, and Back from any step ends
the flow in a finite number of taps, whatever the family picked on the way."""

from __future__ import annotations

import itertools

import pytest

from bot.flows import absence, conference, volunteer
from bot.signups import flowkit as kit

# the picks that change where Back goes
FLAGS = {"conference": ("one_day", "resched", "from_mine", "child_class"),
         "volunteer": ("replace", "kept_name"), "absence": ()}
TABLES = {"absence": absence.STEPS, "conference": conference.STEPS, "volunteer": volunteer.STEPS}


class _State:
    def __init__(self, step: str, picks: dict) -> None:
        self.step, self.data = step, {"flow": picks}

    def space(self, owner: str) -> dict:
        return self.data[owner]


class _Turn:
    def __init__(self, step: str, picks: dict) -> None:
        self.state = _State(step, picks)


@pytest.mark.parametrize("name", TABLES)
def test_back_from_every_step_leaves_the_flow_in_a_few_taps(name):
    steps = TABLES[name]
    for step, on in itertools.product(steps.table, itertools.product((False, True), repeat=len(FLAGS[name]))):
        picks = {flag: "x" for flag, set_ in zip(FLAGS[name], on) if set_}
        seen, current = [], step
        while current is not None:
            assert current in steps and current not in seen, (name, picks, seen + [current])
            seen.append(current)
            current = steps.before(_Turn(current, picks), "flow")
        assert len(seen) <= len(steps.table)


def test_conference_back_follows_how_the_booking_started():
    back = lambda step, **picks: conference.STEPS.before(_Turn(step, picks), "flow")  # noqa: E731
    assert back("slots") == "days"                               # times of a day → the days
    assert back("slots", one_day="1") == "child"                 # a teacher's only day → the child
    assert back("slots", one_day="1", child_class="4A") == "class"
    assert back("days", resched="1") == "teachers"               # moving a booking: no child step
    assert back("days", from_mine="1", resched="1") is None      # started from /mysignups: Back leaves
    assert back("confirm") == "slots" and back("teachers") is None


def test_a_table_naming_a_missing_step_is_refused():
    with pytest.raises(ValueError, match="no step \\['reason'\\]"):
        kit.Steps("child", {"child": kit.Step(lambda *a: None), "days": kit.Step(lambda *a: None, back="reason")})
