"""Maintain the gettext catalogs in `locales/`: extract the template, merge it into each
language, and check translations. Translators work on the `.po` files with their own tools
(Weblate, Poedit, Crowdin); this module keeps those files in step with the code and catalog.

Messages come from two places: UI strings in code marked with `N_("…")`, and the intent
catalog's titles and answers (the English text, with its {placeholders}, is the msgid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from bot.config import REPO_ROOT
from bot.understanding.catalog import Catalog, placeholders

DOMAIN = "bot"
PLACEHOLDER_NOTE = "Keep every {placeholder} exactly as it is: it is filled from the school profile."


@dataclass(frozen=True)
class LocaleProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def build_template(catalog: Catalog, source_dir: Path = REPO_ROOT / "bot", signups: Any = None,
                   calendar: Any = None) -> PoCatalog:
    """Every translatable message of the code, the intent catalog and the sign-up definitions
    (`bot.signups.definitions.Definitions`: titles, descriptions, places, requirements), with
    where each comes from."""
    template = PoCatalog(project="Homeroom", msgid_bugs_address="", fuzzy=False)
    for path in sorted(source_dir.rglob("*.py")):
        for lineno, message, comments, _ in extract_from_file("python", path, keywords={"N_": None}):
            if isinstance(message, str) and message:
                rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
                template.add(message, locations=[(str(rel), lineno)], auto_comments=_notes(message))
    for intent in catalog.intents.values():
        where = (_display(Path(intent.file)), intent.line)
        template.add(intent.title, locations=[where], auto_comments=[f"Button label for intent {intent.id}"])
        if intent.answer:
            template.add(intent.answer, locations=[where],
                         auto_comments=[f"Answer of intent {intent.id}", *_notes(intent.answer)])
    for opp in getattr(signups, "opportunities", ()):
        where = _where(opp.where)
        texts = [("title", opp.title), ("description", opp.description), ("location", opp.location),
                 ("who may sign up", opp.who_may_sign_up), ("what to bring", opp.bring),
                 *(("requirement", r.text) for r in opp.requirements)]
        for field_name, text in texts:
            if text:
                template.add(text, locations=[where], auto_comments=[f"Volunteer opportunity {opp.id}: {field_name}"])
    for teacher in getattr(signups, "teachers", ()):
        where = _where(teacher.where)
        for field_name, text in (("class", teacher.class_name), ("room", teacher.room)):
            if text:
                template.add(text, locations=[where], auto_comments=[f"Conference teacher {teacher.id}: {field_name}"])
    for name in calendar.summaries() if calendar is not None else ():  # bot.calendar.load.SchoolCalendar
        template.add(name, locations=[(_display(Path(calendar.where)), 0)],
                     auto_comments=["An event of the school calendar (holiday, break, early release, event)"])
    return template


def _where(where: str) -> tuple[str, int]:
    """'path/file.yaml:12' (as sign-up definitions record it) as a .po location."""
    path, _, line = where.rpartition(":")
    return (_display(Path(path)), int(line)) if path and line.isdigit() else (where or "signups", 0)


def _notes(message: str) -> list[str]:
    return [PLACEHOLDER_NOTE] if placeholders(message) else []


def write_template(template: PoCatalog, locales_dir: Path) -> Path:
    path = locales_dir / f"{DOMAIN}.pot"
    locales_dir.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, template, width=100, omit_header=False, sort_output=False)
    return path


def update_languages(template: PoCatalog, locales_dir: Path, languages: list[str]) -> list[Path]:
    """Merge the template into each language's .po (new messages empty, changed ones fuzzy)."""
    written = []
    for lang in languages:
        path = locales_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as fh:
                po = read_po(fh, locale=lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            po = PoCatalog(locale=lang, project="Homeroom", fuzzy=False)
        po.update(template, update_creation_date=False)
        with path.open("wb") as fh:
            write_po(fh, po, width=100, ignore_obsolete=True, sort_output=False)
        written.append(path)
    return written


@dataclass
class Coverage:
    language: str
    translated: int
    fuzzy: int
    missing: int


def check(locales_dir: Path, template: PoCatalog | None = None) -> tuple[list[LocaleProblem], list[Coverage]]:
    """Parse every .po; report placeholder mismatches and messages the template no longer has."""
    problems: list[LocaleProblem] = []
    coverage: list[Coverage] = []
    wanted = {m.id for m in template if m.id} if template is not None else None
    for path in sorted(locales_dir.glob("*/LC_MESSAGES/*.po")):
        name = _display(path)
        try:
            with path.open("rb") as fh:
                po = read_po(fh, locale=None, abort_invalid=True)
        except Exception as exc:  # babel raises several types for broken files
            line = getattr(exc, "lineno", 0) or 0
            problems.append(LocaleProblem(name, line, f"cannot parse: {exc}"))
            continue
        translated = fuzzy = 0
        seen = set()
        for message in po:
            if not message.id or isinstance(message.id, tuple):
                continue
            seen.add(message.id)
            if not message.string:
                continue
            if message.fuzzy:
                fuzzy += 1
                continue
            translated += 1
            try:
                want, got = sorted(set(placeholders(message.id))), sorted(set(placeholders(message.string)))
            except ValueError as exc:
                problems.append(LocaleProblem(name, message.lineno or 0, f"stray brace in translation ({exc})"))
                continue
            if want != got:
                missing = ", ".join("{" + p + "}" for p in sorted(set(want) - set(got)))
                extra = ", ".join("{" + p + "}" for p in sorted(set(got) - set(want)))
                detail = "; ".join(x for x in (f"drops {missing}" if missing else "",
                                               f"adds {extra}" if extra else "") if x)
                problems.append(LocaleProblem(name, message.lineno or 0,
                                              f"placeholders differ from the English: {detail}"))
        total = len(wanted) if wanted is not None else len(seen)
        coverage.append(Coverage(path.parent.parent.name, translated, fuzzy, max(total - translated - fuzzy, 0)))
    return problems, coverage
