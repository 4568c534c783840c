"""Sign-up definitions that staff edit: volunteer opportunities with shifts, and conference
windows per teacher. Read from YAML files (`sample_school/signups/*.yaml` is a complete
example) or imported from a CSV file; every problem names where it is — `file:line: message`
for YAML, `row N: message` for CSV (row 1 is the header, as a spreadsheet numbers it).

Times are written in the school's time zone (the profile's `timezone`) and kept as aware
datetimes. A shift is identified by its opportunity and its start (`key`), a conference slot
by its teacher and its start, so editing a description or a capacity keeps every booking.

YAML shape (both top-level keys are optional; any number of files):

    opportunities:
      - id: book-fair                    # lowercase letters, digits, '-' or '_' (≤ 32)
        title: Winter Book Fair helper
        description: Help families find books and run the register.
        location: School library
        requirements:                    # text, or {text, link}
          - text: District volunteer clearance
            link: https://example.org/volunteer
        who_may_sign_up: Parents and guardians   # optional
        bring: A water bottle                    # optional ("what to bring")
        shifts:
          - {start: 2026-12-07 08:00, end: 2026-12-07 10:00, capacity: 3}
          - {date: 2026-12-07, start: "10:00", end: "12:00", capacity: 3}
    conferences:
      - id: tran                         # optional: made from the name
        teacher: Ms. Linh Tran
        class: 2nd grade, Room 8
        # classes: [Period 2 Algebra, Period 5 Geometry]   # several: the family is asked which one
        room: Room 8                     # or video_link: https://...
        languages: [en, vi]
        windows:
          - {date: 2027-01-12, start: "13:00", end: "16:00", slot_minutes: 15, breaks: ["14:30-14:45"]}
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.config import ConfigError
from bot.understanding.catalog import reflow

try:  # the C loader when PyYAML has it
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LANG_RE = re.compile(r"^[a-z]{2,3}$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_DATETIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})(?::00)?$")
_SPAN_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
MAX_TEXT = {"title": 120, "location": 200, "description": 2000, "who_may_sign_up": 300, "bring": 300,
            "teacher": 100, "class": 100, "room": 100}

OPPORTUNITY_KEYS = {"id", "title", "description", "location", "requirements", "who_may_sign_up", "bring",
                    "shifts"}
SHIFT_KEYS = {"start", "end", "date", "capacity"}
TEACHER_KEYS = {"id", "teacher", "class", "classes", "room", "video_link", "languages", "windows"}
WINDOW_KEYS = {"date", "start", "end", "slot_minutes", "breaks"}
CSV_COLUMNS = ["kind", "id", "title", "description", "location", "requirements", "requirements_link",
               "who_may_sign_up", "bring", "teacher", "class", "room", "video_link", "languages",
               "date", "start", "end", "capacity", "slot_minutes", "breaks"]


class DefinitionError(ConfigError):
    """Sign-up definitions have problems; the message lists each as `where: what`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("sign-up definitions have errors:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Requirement:
    text: str
    link: str | None = None


@dataclass(frozen=True)
class ShiftDef:
    key: str            # the local start, "YYYY-MM-DDTHH:MM": with the opportunity, the shift's identity
    start: datetime     # aware, in the school's time zone
    end: datetime
    capacity: int
    where: str = ""


@dataclass(frozen=True)
class OpportunityDef:
    id: str
    title: str
    description: str = ""
    location: str = ""
    requirements: tuple[Requirement, ...] = ()
    who_may_sign_up: str | None = None
    bring: str | None = None
    shifts: tuple[ShiftDef, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class SlotDef:
    key: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class WindowDef:
    day: date
    start: time
    end: time
    slot_minutes: int
    breaks: tuple[tuple[time, time], ...] = ()
    where: str = ""

    def slots(self, tz: ZoneInfo) -> list[SlotDef]:
        """Back-to-back slots from start; a slot overlapping a break is skipped, and the last
        one ends at or before the window's end."""
        out: list[SlotDef] = []
        step = timedelta(minutes=self.slot_minutes)
        at = datetime.combine(self.day, self.start)
        end = datetime.combine(self.day, self.end)
        breaks = [(datetime.combine(self.day, a), datetime.combine(self.day, b)) for a, b in self.breaks]
        while at + step <= end:
            if not any(at < b_end and at + step > b_start for b_start, b_end in breaks):
                out.append(SlotDef(at.strftime("%Y-%m-%dT%H:%M"), at.replace(tzinfo=tz), (at + step).replace(tzinfo=tz)))
            at += step
        return out


@dataclass(frozen=True)
class TeacherDef:
    id: str
    name: str
    class_name: str = ""
    room: str | None = None
    video_link: str | None = None
    languages: tuple[str, ...] = ("en",)
    windows: tuple[WindowDef, ...] = ()
    where: str = ""
    classes: tuple[str, ...] = ()  # several classes (e.g. periods): the family is asked which one

    def slots(self, tz: ZoneInfo) -> list[SlotDef]:
        return [slot for window in self.windows for slot in window.slots(tz)]


@dataclass
class Definitions:
    timezone: str
    opportunities: list[OpportunityDef] = field(default_factory=list)
    teachers: list[TeacherDef] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def check(self) -> "Definitions":
        """Raise DefinitionError when there are problems; else return self."""
        if self.problems:
            raise DefinitionError(self.problems)
        return self

    def merged(self, other: "Definitions") -> "Definitions":
        """Both sets together, with duplicate ids reported (e.g. a CSV import over the files)."""
        out = Definitions(self.timezone, [*self.opportunities], [*self.teachers],
                          [*self.problems, *other.problems], [*self.files, *other.files])
        seen_o = {o.id: o for o in out.opportunities}
        seen_t = {t.id: t for t in out.teachers}
        for opp in other.opportunities:
            if opp.id in seen_o:
                out.problems.append(f"{opp.where}: opportunity id '{opp.id}' is already defined at "
                                    f"{seen_o[opp.id].where}")
            else:
                seen_o[opp.id] = opp
                out.opportunities.append(opp)
        for teacher in other.teachers:
            if teacher.id in seen_t:
                out.problems.append(f"{teacher.where}: teacher id '{teacher.id}' is already defined at "
                                    f"{seen_t[teacher.id].where}")
            else:
                seen_t[teacher.id] = teacher
                out.teachers.append(teacher)
        return out


# -- raw records with locations -----------------------------------------------------------

class _Raw(dict):
    """A mapping read from YAML or CSV that knows where it and each of its keys came from."""

    where: str = ""
    key_where: dict[str, str]

    def at(self, key: str) -> str:
        return self.key_where.get(key, self.where)


def _raw(values: dict[str, Any], where: str, key_where: dict[str, str] | None = None) -> _Raw:
    raw = _Raw(values)
    raw.where = where
    raw.key_where = key_where or {}
    return raw


def _plain(node: yaml.Node, name: str) -> Any:
    """A composed YAML node as plain values, every scalar as its text (we parse it ourselves:
    YAML 1.1 would read 13:00 as the number 780), mappings as _Raw with their lines."""
    if isinstance(node, yaml.MappingNode):
        values: dict[str, Any] = {}
        lines: dict[str, str] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            values[key] = _plain(value_node, name)
            lines[key] = f"{name}:{value_node.start_mark.line + 1}"
        return _raw(values, f"{name}:{node.start_mark.line + 1}", lines)
    if isinstance(node, yaml.SequenceNode):
        items = []
        for item in node.value:
            value = _plain(item, name)
            if not isinstance(value, _Raw):
                value = _Item(value, f"{name}:{item.start_mark.line + 1}")
            items.append(value)
        return items
    if node.tag == "tag:yaml.org,2002:null":
        return None
    return str(node.value)


@dataclass(frozen=True)
class _Item:
    """A scalar list item and its line."""

    value: Any
    where: str


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, _Item) else value


# -- loading ---------------------------------------------------------------------------------

def load_definitions(directory: Path, timezone: str) -> Definitions:
    """Every `*.yaml`/`*.yml` in `directory` (sorted). A missing directory means no sign-ups."""
    defs = Definitions(timezone)
    directory = Path(directory)
    if not directory.is_dir():
        return defs
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        defs = defs.merged(load_yaml(path, timezone))
    return defs


def load_yaml(path: Path, timezone: str, text: str | None = None) -> Definitions:
    name = _display(path)
    defs = Definitions(timezone, files=[Path(path)])
    try:
        root = yaml.compose(text if text is not None else Path(path).read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        defs.problems.append(f"{name}:{mark.line + 1 if mark else 0}: YAML error: "
                             f"{getattr(exc, 'problem', None) or exc}")
        return defs
    except (OSError, UnicodeDecodeError) as exc:
        defs.problems.append(f"{name}:0: cannot read: {exc}")
        return defs
    if root is None:
        return defs
    data = _plain(root, name)
    if not isinstance(data, _Raw):
        defs.problems.append(f"{name}:1: expected top-level keys 'opportunities:' and/or 'conferences:'")
        return defs
    for key in data:
        if key not in ("opportunities", "conferences"):
            defs.problems.append(f"{data.at(key)}: unknown top-level key '{key}' "
                                 "(allowed: opportunities, conferences)")
    tz = ZoneInfo(timezone)
    builder = _Builder(tz, defs.problems)
    for key, build, target in (("opportunities", builder.opportunity, defs.opportunities),
                               ("conferences", builder.teacher, defs.teachers)):
        items = data.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            defs.problems.append(f"{data.at(key)}: '{key}' must be a list (each item starts with '- ')")
            continue
        for item in items:
            if not isinstance(item, _Raw):
                defs.problems.append(f"{getattr(item, 'where', data.at(key))}: each item of '{key}' must be a mapping")
                continue
            built = build(item)
            if built is not None:
                target.append(built)
    return Definitions(timezone, files=defs.files).merged(defs)


def parse_csv(text: str, timezone: str, source: str = "csv") -> Definitions:
    """Definitions from a CSV file: one row per volunteer shift (kind=volunteer; rows with the
    same id are one opportunity) or per conference window (kind=conference). Problems are
    reported as `row N: message`, N counted as a spreadsheet does (the header is row 1)."""
    defs = Definitions(timezone)
    if text.startswith("\ufeff"):
        text = text[1:]  # Excel's byte order mark
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        defs.problems.append("row 1: the file is empty (expected a header row)")
        return defs
    except csv.Error as exc:
        defs.problems.append(f"row 1: {exc}")
        return defs
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c and c not in CSV_COLUMNS]
    if unknown:
        defs.problems.append(f"row 1: unknown column(s) {', '.join(repr(c) for c in unknown)} "
                             f"(allowed: {', '.join(CSV_COLUMNS)})")
        return defs
    if "kind" not in columns:
        defs.problems.append("row 1: a 'kind' column is required (volunteer or conference)")
        return defs
    tz = ZoneInfo(timezone)
    builder = _Builder(tz, defs.problems)
    opportunities: dict[str, tuple[_Raw, list[_Raw]]] = {}
    teachers: dict[str, tuple[_Raw, list[_Raw]]] = {}
    row_no = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            defs.problems.append(f"row {row_no + 1}: {exc}")
            break
        row_no += 1
        if not any(cell.strip() for cell in row):
            continue
        where = f"row {row_no}"
        if len(row) > len(columns):
            defs.problems.append(f"{where}: {len(row)} cells but the header has {len(columns)} columns")
            continue
        cells = {c: v.strip() for c, v in zip(columns, row) if c and v.strip()}
        kind = cells.get("kind", "").lower()
        if kind == "volunteer":
            opp_id = cells.get("id", "")
            if not opp_id:
                defs.problems.append(f"{where}: 'id' is required for a volunteer shift (rows with the same "
                                     "id are one opportunity)")
                continue
            shift = _raw({k: cells[k] for k in ("date", "start", "end", "capacity") if k in cells}, where)
            if opp_id not in opportunities:
                fields = {k: cells[k] for k in ("id", "title", "description", "location", "who_may_sign_up",
                                                "bring") if k in cells}
                if "requirements" in cells:
                    reqs = [r.strip() for r in cells["requirements"].split(";") if r.strip()]
                    link = cells.get("requirements_link")
                    fields["requirements"] = [_raw({"text": r, **({"link": link} if link and i == 0 else {})},
                                                   where) for i, r in enumerate(reqs)]
                opportunities[opp_id] = (_raw(fields, where), [])
            else:
                first = opportunities[opp_id][0]
                for key in ("title", "location"):
                    if key in cells and key in first and cells[key] != first[key]:
                        defs.problems.append(f"{where}: opportunity '{opp_id}' has a different {key} on "
                                             f"{first.where} ({first[key]!r})")
            opportunities[opp_id][1].append(shift)
        elif kind == "conference":
            name = cells.get("teacher", "")
            if not name:
                defs.problems.append(f"{where}: 'teacher' is required for a conference window")
                continue
            teacher_id = cells.get("id") or slug(name)
            window = _raw({k: cells[k] for k in ("date", "start", "end", "slot_minutes") if k in cells}, where)
            if "breaks" in cells:
                window["breaks"] = [b for b in re.split(r"[;,]", cells["breaks"]) if b.strip()]
            if teacher_id not in teachers:
                fields = {"id": teacher_id, "teacher": name}
                for key in ("class", "room", "video_link"):
                    if key in cells:
                        fields[key] = cells[key]
                if "languages" in cells:
                    fields["languages"] = [c for c in re.split(r"[\s;,]+", cells["languages"]) if c]
                teachers[teacher_id] = (_raw(fields, where), [])
            teachers[teacher_id][1].append(window)
        else:
            defs.problems.append(f"{where}: kind must be 'volunteer' or 'conference', not {cells.get('kind', '')!r}")
    for opp_id, (fields, shifts) in opportunities.items():
        built = builder.opportunity(_raw({**fields, "shifts": shifts}, fields.where))
        if built is not None:
            defs.opportunities.append(built)
    for teacher_id, (fields, windows) in teachers.items():
        built = builder.teacher(_raw({**fields, "windows": windows}, fields.where))
        if built is not None:
            defs.teachers.append(built)
    return Definitions(timezone, files=[]).merged(defs)


# -- building and checking ----------------------------------------------------------------

class _Builder:
    def __init__(self, tz: ZoneInfo, problems: list[str]) -> None:
        self.tz, self.problems = tz, problems

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def _text(self, raw: _Raw, key: str, required: bool = False) -> str | None:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(raw.where, f"missing '{key}'")
            return None
        if not isinstance(value, str):
            self.problem(raw.at(key), f"'{key}' must be text")
            return None
        value = reflow(value) if key == "description" else " ".join(value.split())
        limit = MAX_TEXT.get(key)
        if limit and len(value) > limit:
            self.problem(raw.at(key), f"'{key}' is longer than {limit} characters")
            return None
        return value

    def _unknown(self, raw: _Raw, allowed: set[str]) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(raw.at(key), f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")

    def opportunity(self, raw: _Raw) -> OpportunityDef | None:
        before = len(self.problems)
        self._unknown(raw, OPPORTUNITY_KEYS)
        opp_id = self._text(raw, "id", required=True)
        if opp_id is not None and not ID_RE.match(opp_id):
            self.problem(raw.at("id"), f"id '{opp_id}': use lowercase letters, digits, '-' or '_' (at most 32)")
        title = self._text(raw, "title", required=True)
        requirements = self._requirements(raw)
        shifts_raw = raw.get("shifts")
        shifts: list[ShiftDef] = []
        if not isinstance(shifts_raw, list) or not shifts_raw:
            self.problem(raw.at("shifts"), "'shifts' must be a list with at least one shift")
        else:
            seen: dict[str, str] = {}
            for item in shifts_raw:
                shift = self.shift(item)
                if shift is None:
                    continue
                if shift.key in seen:
                    self.problem(shift.where, f"two shifts start at {shift.key.replace('T', ' ')} "
                                              f"(the other is at {seen[shift.key]})")
                    continue
                seen[shift.key] = shift.where
                shifts.append(shift)
        description = self._text(raw, "description") or ""
        location = self._text(raw, "location") or ""
        who = self._text(raw, "who_may_sign_up")
        bring = self._text(raw, "bring")
        if len(self.problems) > before or opp_id is None or title is None:
            return None
        return OpportunityDef(opp_id, title, description, location, tuple(requirements), who, bring,
                              tuple(sorted(shifts, key=lambda s: s.start)), raw.where)

    def _requirements(self, raw: _Raw) -> list[Requirement]:
        value = raw.get("requirements")
        if value is None:
            return []
        if isinstance(value, str):
            value = [_Item(value, raw.at("requirements"))]
        if not isinstance(value, list):
            self.problem(raw.at("requirements"), "'requirements' must be a list")
            return []
        out = []
        for item in value:
            if isinstance(item, _Item) and isinstance(item.value, str) and item.value.strip():
                out.append(Requirement(" ".join(item.value.split())))
            elif isinstance(item, _Raw):
                self._unknown(item, {"text", "link"})
                text = self._text(item, "text", required=True)
                link = self._text(item, "link")
                if link is not None and not re.match(r"^https?://\S+$", link):
                    self.problem(item.at("link"), f"link {link!r} must start with http:// or https://")
                    continue
                if text:
                    out.append(Requirement(text, link))
            else:
                self.problem(getattr(item, "where", raw.at("requirements")),
                             "each requirement is text, or a mapping with 'text' and 'link'")
        return out

    def shift(self, item: Any) -> ShiftDef | None:
        if not isinstance(item, _Raw):
            self.problem(getattr(item, "where", "?"), "each shift is a mapping with start, end and capacity")
            return None
        self._unknown(item, SHIFT_KEYS)
        before = len(self.problems)
        day = self._date(item, "date") if item.get("date") is not None else None
        start = self._moment(item, "start", day)
        end = self._moment(item, "end", day)
        capacity = self._int(item, "capacity", 0, 10_000)
        if start is not None and end is not None and end <= start:
            self.problem(item.at("end"), "end before start" if end < start else "end is the same as start")
        if len(self.problems) > before or start is None or end is None or capacity is None:
            return None
        return ShiftDef(start.strftime("%Y-%m-%dT%H:%M"), start, end, capacity, item.where)

    def teacher(self, raw: _Raw) -> TeacherDef | None:
        before = len(self.problems)
        self._unknown(raw, TEACHER_KEYS)
        name = self._text(raw, "teacher", required=True)
        teacher_id = self._text(raw, "id") or (slug(name) if name else None)
        if teacher_id is not None and not ID_RE.match(teacher_id):
            self.problem(raw.at("id"), f"id '{teacher_id}': use lowercase letters, digits, '-' or '_' (at most 32)")
        class_name = self._text(raw, "class") or ""
        classes: list[str] = []
        if raw.get("classes") is not None:
            listed = raw.get("classes")
            if not isinstance(listed, list) or not all(isinstance(_unwrap(c), str) and _unwrap(c).strip()
                                                       and len(_unwrap(c)) <= MAX_TEXT["class"] for c in listed):
                self.problem(raw.at("classes"), "'classes' must be a list of class names, e.g. [Period 2, Period 5]")
            else:
                classes = list(dict.fromkeys(" ".join(_unwrap(c).split()) for c in listed))
                class_name = class_name or ", ".join(classes)
        room = self._text(raw, "room")
        video = self._text(raw, "video_link")
        if video is not None and not re.match(r"^https?://\S+$", video):
            self.problem(raw.at("video_link"), f"video_link {video!r} must start with http:// or https://")
        if room is None and video is None:
            self.problem(raw.where, "give a 'room' or a 'video_link' (where families meet the teacher)")
        languages = raw.get("languages", ["en"])
        if isinstance(languages, str):
            languages = [_Item(c, raw.at("languages")) for c in re.split(r"[\s;,]+", languages) if c]
        codes: list[str] = []
        if not isinstance(languages, list) or not languages:
            self.problem(raw.at("languages"), "'languages' must be a list of language codes, e.g. [en, es]")
        else:
            for item in languages:
                code = _unwrap(item)
                if not isinstance(code, str) or not LANG_RE.match(code.strip().lower()):
                    self.problem(getattr(item, "where", raw.at("languages")),
                                 f"{code!r} is not a language code (e.g. en, es, vi)")
                else:
                    codes.append(code.strip().lower())
        windows_raw = raw.get("windows")
        windows: list[WindowDef] = []
        if not isinstance(windows_raw, list) or not windows_raw:
            self.problem(raw.at("windows"), "'windows' must be a list with at least one window")
        else:
            for item in windows_raw:
                window = self.window(item)
                if window is not None:
                    windows.append(window)
        if len(self.problems) > before or name is None or teacher_id is None:
            return None
        teacher = TeacherDef(teacher_id, name, class_name, room, video, tuple(dict.fromkeys(codes)),
                             tuple(sorted(windows, key=lambda w: (w.day, w.start))), raw.where,
                             tuple(classes) if len(classes) > 1 else ())
        keys: dict[str, WindowDef] = {}
        for window in teacher.windows:
            for slot in window.slots(self.tz):
                if slot.key in keys and keys[slot.key] is not window:
                    self.problem(window.where, f"window overlaps another window of {name} "
                                               f"(at {keys[slot.key].where})")
                    return None
                keys[slot.key] = window
        return teacher

    def window(self, item: Any) -> WindowDef | None:
        if not isinstance(item, _Raw):
            self.problem(getattr(item, "where", "?"), "each window is a mapping with date, start, end, slot_minutes")
            return None
        self._unknown(item, WINDOW_KEYS)
        before = len(self.problems)
        day = self._date(item, "date", required=True)
        start = self._time(item, "start")
        end = self._time(item, "end")
        minutes = self._int(item, "slot_minutes", 5, 240)
        if start is not None and end is not None and end <= start:
            self.problem(item.at("end"), "end before start" if end < start else "end is the same as start")
        breaks: list[tuple[time, time]] = []
        raw_breaks = item.get("breaks") or []
        if isinstance(raw_breaks, (str, _Item)):
            raw_breaks = [raw_breaks]
        if not isinstance(raw_breaks, list):
            self.problem(item.at("breaks"), "'breaks' must be a list like [\"14:30-14:45\"]")
            raw_breaks = []
        for entry in raw_breaks:
            text = _unwrap(entry)
            match = _SPAN_RE.match(text) if isinstance(text, str) else None
            parsed = (_parse_time(match.group(1)), _parse_time(match.group(2))) if match else (None, None)
            if parsed[0] is None or parsed[1] is None:
                self.problem(getattr(entry, "where", item.at("breaks")), f"break {text!r}: write it as HH:MM-HH:MM")
            elif parsed[1] <= parsed[0]:
                self.problem(getattr(entry, "where", item.at("breaks")), f"break {text!r}: end before start")
            elif start is not None and end is not None and (parsed[0] < start or parsed[1] > end):
                self.problem(getattr(entry, "where", item.at("breaks")), f"break {text!r} is outside the window")
            else:
                breaks.append(parsed)  # type: ignore[arg-type]
        if len(self.problems) > before or day is None or start is None or end is None or minutes is None:
            return None
        window = WindowDef(day, start, end, minutes, tuple(breaks), item.where)
        if not window.slots(self.tz):
            self.problem(item.where, f"no {minutes}-minute slot fits between {start:%H:%M} and {end:%H:%M}")
            return None
        return window

    # -- values --------------------------------------------------------------------------
    def _date(self, raw: _Raw, key: str, required: bool = False) -> date | None:
        value = raw.get(key)
        if value is None:
            if required:
                self.problem(raw.where, f"missing '{key}'")
            return None
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.problem(raw.at(key), f"{key} {value!r}: write dates as YYYY-MM-DD")
            return None

    def _time(self, raw: _Raw, key: str) -> time | None:
        value = raw.get(key)
        if value is None:
            self.problem(raw.where, f"missing '{key}'")
            return None
        parsed = _parse_time(str(value))
        if parsed is None:
            self.problem(raw.at(key), f"{key} {value!r}: write times as HH:MM (24-hour clock)")
        return parsed

    def _moment(self, raw: _Raw, key: str, day: date | None) -> datetime | None:
        value = raw.get(key)
        if value is None:
            self.problem(raw.where, f"missing '{key}'")
            return None
        text = str(value).strip()
        if day is not None and _TIME_RE.match(text):
            clock = _parse_time(text)
            if clock is None:
                self.problem(raw.at(key), f"{key} {value!r}: not a time of day")
                return None
            return datetime.combine(day, clock, self.tz)
        match = _DATETIME_RE.match(text)
        if not match:
            self.problem(raw.at(key), f"{key} {value!r}: write it as YYYY-MM-DD HH:MM (or give 'date' "
                                      "and HH:MM)")
            return None
        try:
            return datetime.combine(date.fromisoformat(match.group(1)),
                                    time(int(match.group(2)), int(match.group(3))), self.tz)
        except ValueError:
            self.problem(raw.at(key), f"{key} {value!r}: not a real date and time")
            return None

    def _int(self, raw: _Raw, key: str, low: int, high: int) -> int | None:
        value = raw.get(key)
        if value is None:
            self.problem(raw.where, f"missing '{key}'")
            return None
        try:
            number = int(str(value).strip())
        except ValueError:
            self.problem(raw.at(key), f"{key} {value!r} must be a whole number")
            return None
        if not low <= number <= high:
            self.problem(raw.at(key), f"{key} {number} must be between {low} and {high}")
            return None
        return number


def _parse_time(text: str) -> time | None:
    match = _TIME_RE.match(text.strip())
    if not match:
        return None
    try:
        return time(int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None


def slug(name: str) -> str:
    """A teacher id from a name: 'Ms. Linh Tran' -> 'linh-tran' (titles dropped)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    words = [w for w in words if w not in {"mr", "mrs", "ms", "miss", "dr", "mx", "prof", "sr", "sra"}] or words
    return "-".join(words)[:32].strip("-") or "teacher"


def _display(path: Path) -> str:
    try:
        from bot.config import REPO_ROOT
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def to_yaml(defs: Definitions) -> str:
    """Definitions as YAML in the documented shape (what `homeroom signups import` writes)."""
    data: dict[str, Any] = {}
    if defs.opportunities:
        data["opportunities"] = [_opportunity_dict(o) for o in defs.opportunities]
    if defs.teachers:
        data["conferences"] = [_teacher_dict(t) for t in defs.teachers]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _opportunity_dict(o: OpportunityDef) -> dict[str, Any]:
    out: dict[str, Any] = {"id": o.id, "title": o.title}
    if o.description:
        out["description"] = o.description
    if o.location:
        out["location"] = o.location
    if o.requirements:
        out["requirements"] = [{"text": r.text, **({"link": r.link} if r.link else {})} for r in o.requirements]
    if o.who_may_sign_up:
        out["who_may_sign_up"] = o.who_may_sign_up
    if o.bring:
        out["bring"] = o.bring
    out["shifts"] = [{"start": s.start.strftime("%Y-%m-%d %H:%M"), "end": s.end.strftime("%Y-%m-%d %H:%M"),
                      "capacity": s.capacity} for s in o.shifts]
    return out


def _teacher_dict(t: TeacherDef) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t.id, "teacher": t.name}
    if t.class_name:
        out["class"] = t.class_name
    if t.classes:
        out["classes"] = list(t.classes)
    if t.room:
        out["room"] = t.room
    if t.video_link:
        out["video_link"] = t.video_link
    out["languages"] = list(t.languages)
    out["windows"] = [{"date": w.day.isoformat(), "start": w.start.strftime("%H:%M"),
                       "end": w.end.strftime("%H:%M"), "slot_minutes": w.slot_minutes,
                       **({"breaks": [f"{a:%H:%M}-{b:%H:%M}" for a, b in w.breaks]} if w.breaks else {})}
                      for w in t.windows]
    return out
