"""The intent catalog: load `intents/*.yaml`, check it, and report problems as `file:line: message`.

The catalog is data that school staff edit, so every problem names the file and line and says
what to change. YAML is read through `yaml.compose` to keep each value's line number.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

try:  # libyaml is several times faster; fall back to pure Python where it is missing.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

OUT_OF_SCOPE = "out_of_scope"
FLOWS = ("volunteer", "conference", "language", "absence")
HANDOFFS = ("normal", "urgent")
REQUIRED_LANGUAGES = ("en", "es")
INTENT_KEYS = {"id", "title", "topic", "examples", "answer", "choices", "action"}
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LANG_RE = re.compile(r"^[a-z]{2,3}$")
MAX_TITLE = 40


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in the catalog, where it is, and whether it blocks start-up."""

    file: str
    line: int
    message: str
    severity: str = "error"
    column: int = 0  # 1-based where known (YAML syntax errors, bad items)

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else f"{self.severity}: "
        where = f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"
        return f"{where}: {tag}{self.message}"


@dataclass(frozen=True)
class Example:
    text: str
    language: str
    file: str
    line: int


@dataclass(frozen=True)
class Intent:
    id: str
    title: str
    topic: str
    examples: tuple[Example, ...]
    answer: str | None
    choices: tuple[str, ...] = ()
    flow: str | None = None
    handoff: str | None = None
    file: str = ""
    line: int = 0
    # where the answer is written, and each {placeholder} in it: (name, line, column); each
    # choice's line — so a problem is reported where the author has to change it
    answer_at: tuple[int, int] = (0, 0)
    placeholder_at: tuple[tuple[str, int, int], ...] = ()
    choice_lines: tuple[int, ...] = ()

    def examples_in(self, language: str) -> list[str]:
        return [e.text for e in self.examples if e.language == language]

    @property
    def languages(self) -> set[str]:
        return {e.language for e in self.examples}

    @property
    def urgent(self) -> bool:
        """Safety or bullying: staff at once, never hidden behind another answer."""
        return self.handoff == "urgent"


@dataclass
class Catalog:
    intents: dict[str, Intent] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    # the broad bank of everyday requests (intents/out_of_domain/<lang>.yaml): what the classifier
    # learns "not a school question" from, beside out_of_scope's own examples; answers nothing
    out_of_domain: tuple[Example, ...] = ()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def __contains__(self, intent_id: str) -> bool:
        return intent_id in self.intents

    def __getitem__(self, intent_id: str) -> Intent:
        return self.intents[intent_id]

    def render_answer(self, intent_id: str, info: Mapping[str, str]) -> str:
        """The intent's English answer with the school's values filled in."""
        from bot.i18n import fill
        return fill(self.intents[intent_id].answer or "", info).strip()

    def examples_by_language(self) -> dict[str, list[str]]:
        """Every example's text, by its language (what the language detector learns from)."""
        out: dict[str, list[str]] = {}
        for intent in self.intents.values():
            for example in intent.examples:
                out.setdefault(example.language, []).append(example.text)
        return out

    def report(self) -> str:
        return "\n".join(str(p) for p in sorted(self.problems))


def reflow(text: str) -> str:
    """Join the lines of each paragraph: YAML block text wraps where the author's editor did."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


class CatalogError(Exception):
    """The catalog has errors; the message is the full file:line report."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog.report())
        self.catalog = catalog


def placeholders(text: str) -> list[str]:
    """Names used as {placeholder} in a text (raises ValueError on a stray brace)."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def load_catalog(directory: Path, info: Mapping[str, str] | None = None) -> Catalog:
    """Read every `*.yaml` in `directory` and check it. Never raises for bad content:
    problems are collected in `catalog.problems`."""
    catalog = Catalog()
    files = sorted(p for p in Path(directory).glob("*.yaml")) + sorted(Path(directory).glob("*.yml"))
    if not files:
        catalog.problems.append(Problem(str(directory), 0, "no intent files (*.yaml) found"))
    seen_examples: dict[tuple[str, str], tuple[str, Example]] = {}
    first_seen: dict[str, Intent] = {}
    unreadable: dict[str, set[str]] = {}  # a file YAML could not read -> the ids it seems to define
    for path in files:
        catalog.files.append(path)
        for intent in _load_file(path, catalog.problems, unreadable):
            if intent.id in first_seen:
                other = first_seen[intent.id]
                catalog.problems.append(Problem(
                    intent.file, intent.line,
                    f"duplicate intent id '{intent.id}' (first defined at {other.file}:{other.line})"))
                continue
            first_seen[intent.id] = intent
            catalog.intents[intent.id] = intent
            for ex in intent.examples:
                key = (ex.language, _example_key(ex.text))
                if key in seen_examples and seen_examples[key][0] != intent.id:
                    owner, first = seen_examples[key]
                    catalog.problems.append(Problem(
                        ex.file, ex.line,
                        f"example {ex.text!r} belongs to two intents: '{owner}' "
                        f"({first.file}:{first.line}) and '{intent.id}'"))
                else:
                    seen_examples.setdefault(key, (intent.id, ex))
    bank: list[Example] = []
    for path in sorted((Path(directory) / OUT_OF_DOMAIN_DIR).glob("*.yaml")):
        catalog.files.append(path)
        for ex in _load_bank(path, catalog.problems):
            key = (ex.language, _example_key(ex.text))
            owner = seen_examples.get(key)
            if owner is not None and owner[0] != OUT_OF_SCOPE:
                catalog.problems.append(Problem(
                    ex.file, ex.line, f"everyday request {ex.text!r} is also an example of '{owner[0]}' "
                    f"({owner[1].file}:{owner[1].line}): remove one of them"))
            elif owner is None:
                seen_examples[key] = (OUT_OF_SCOPE, ex)
                bank.append(ex)
    catalog.out_of_domain = tuple(bank)
    _check_references(catalog, info, unreadable)
    return catalog


OUT_OF_DOMAIN_DIR = "out_of_domain"


def _load_bank(path: Path, problems: list[Problem]) -> list[Example]:
    """One language's everyday requests: `language: xx` and `examples:` (a list of strings)."""
    name = _display(path)
    root, _ = _compose(path, name, problems)
    if root is None:
        return []
    mapping = isinstance(root, yaml.MappingNode)
    lang_node = _get(root, "language") if mapping else None
    list_node = _get(root, "examples") if mapping else None
    lang = _scalar(lang_node)
    if not lang or not _LANG_RE.match(lang):
        problems.append(Problem(name, _line(lang_node or root), "expected 'language:' with a language code (en, es…)"))
        return []
    if not isinstance(list_node, yaml.SequenceNode):
        problems.append(Problem(name, _line(list_node or root), "expected 'examples:' holding a list of requests"))
        return []
    out = []
    for item in list_node.value:
        text = _scalar(item)
        if not text or not text.strip():
            problems.append(Problem(name, _line(item), "empty or non-text request", column=_column(item)))
            continue
        out.append(Example(text.strip(), lang, name, _line(item)))
    return out


def _example_key(text: str) -> str:
    from bot.understanding.normalize import normalize
    return normalize(text)


def _check_references(catalog: Catalog, info: Mapping[str, str] | None,
                      unreadable: Mapping[str, set[str]] | None = None) -> None:
    """Choices name intents, answers name profile values. A choice naming an id that a file YAML
    could not read seems to define is not reported: that is the broken file's error, once."""
    maybe = {i: name for name, ids in (unreadable or {}).items() for i in ids}
    unchecked: dict[str, int] = {}
    for intent in catalog.intents.values():
        for n, choice in enumerate(intent.choices):
            if choice in catalog.intents:
                continue
            if choice in maybe:
                unchecked[maybe[choice]] = unchecked.get(maybe[choice], 0) + 1
                continue
            line = intent.choice_lines[n] if n < len(intent.choice_lines) else intent.line
            catalog.problems.append(Problem(
                intent.file, line, f"intent '{intent.id}': choice '{choice}' is not an intent id"))
        if info is not None and intent.answer:
            line, column = intent.answer_at if intent.answer_at[0] else (intent.line, 0)
            try:
                names = placeholders(intent.answer)
            except ValueError as exc:
                catalog.problems.append(Problem(intent.file, line,
                                                f"intent '{intent.id}': answer has a stray brace ({exc})",
                                                column=column))
                continue
            where = {name: (at_line, at_column) for name, at_line, at_column in reversed(intent.placeholder_at)}
            for name in names:
                if name not in info:
                    at_line, at_column = where.get(name, (line, column))
                    catalog.problems.append(Problem(
                        intent.file, at_line,
                        f"intent '{intent.id}': unknown placeholder {{{name}}} in answer "
                        "(add it to the school profile's [info] table or fix the name)", column=at_column))
    for name, count in unchecked.items():
        broken = next((p for p in catalog.problems if p.file == name and p.severity == "error"), None)
        catalog.problems.append(Problem(
            name, broken.line if broken else 0,
            f"knock-on errors left out: {count} choice(s) in other files name intents this file seems "
            "to define; they are checked once it reads without YAML errors", severity="warning",
            column=broken.column if broken else 0))


def _display(path: Path) -> str:
    """A path as an author would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _compose(path: Path, name: str, problems: list[Problem],
             unreadable: dict[str, set[str]] | None = None) -> tuple[yaml.Node | None, str]:
    """The file's YAML node tree and text, or None with the problem (file, line and column)
    recorded. A file YAML cannot read goes into `unreadable` with the ids it seems to define."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, 0, f"cannot read: {exc}"))
        if unreadable is not None:
            unreadable[name] = _ids_in(path.read_bytes().decode("utf-8", errors="replace")) if path.is_file() else set()
        return None, ""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line, column, message = _yaml_error(exc, text)
        problems.append(Problem(name, line, f"YAML error: {message}", column=column))
        if unreadable is not None:
            unreadable[name] = _ids_in(text)
        return None, text
    except yaml.YAMLError as exc:
        problems.append(Problem(name, 0, f"cannot read: {exc}"))
        if unreadable is not None:
            unreadable[name] = _ids_in(text)
        return None, text
    if root is None:
        problems.append(Problem(name, 1, "file is empty"))
    return root, text


# Where YAML noticed the mistake is not always where it is: an unclosed quote or bracket is
# noticed at the end of the file (or at the next quote), but it opened at the context mark.
_OPENED_THERE = ("quoted scalar", "flow sequence", "flow mapping")


def _yaml_error(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str]:
    """(line, column, message) for a YAML error, 1-based, at the place the author must fix."""
    problem, context = exc.problem or str(exc), exc.context
    p, c = exc.problem_mark, exc.context_mark
    at_end = p is not None and (p.index >= len(text) - 1 or "end of stream" in problem)
    if c is not None and context and (at_end or any(k in context for k in _OPENED_THERE)):
        hint = ""
        if "quoted scalar" in context:
            hint = " (is its closing quote missing?)"
        elif "flow" in context:
            hint = " (is its closing bracket missing?)"
        where = f" at line {p.line + 1}, column {p.column + 1}" if p is not None else ""
        return c.line + 1, c.column + 1, f"{context} that starts here{hint}: {problem}{where}"
    if p is None:
        return (c.line + 1, c.column + 1, problem) if c is not None else (0, 0, problem)
    extra = f" ({context} at line {c.line + 1}, column {c.column + 1})" if c is not None and context else ""
    return p.line + 1, p.column + 1, f"{problem}{extra}"


_ID_LINE = re.compile(r"^[ \t-]*id[ \t]*:[ \t]*[\"']?([a-z][a-z0-9_]*)", re.MULTILINE)


def _ids_in(text: str) -> set[str]:
    """The intent ids a file seems to define, read from its `- id:` lines (without YAML)."""
    return set(_ID_LINE.findall(text))


def _load_file(path: Path, problems: list[Problem], unreadable: dict[str, set[str]] | None = None) -> list[Intent]:
    name = _display(path)
    root, text = _compose(path, name, problems, unreadable)
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode) or _get(root, "intents") is None:
        problems.append(Problem(name, _line(root), "expected a top-level key 'intents:' holding a list"))
        return []
    seq = _get(root, "intents")
    if not isinstance(seq, yaml.SequenceNode):
        problems.append(Problem(name, _line(seq), "'intents' must be a list (each item starts with '- id:')"))
        return []
    out = []
    for node in seq.value:
        intent = _parse_intent(name, node, problems, text)
        if intent is not None:
            out.append(intent)
    return out


def _parse_intent(name: str, node: yaml.Node, problems: list[Problem], source: str = "") -> Intent | None:
    line = _line(node)
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(name, line, "each intent must be a mapping with id, title, examples, answer"))
        return None
    keys = {k.value: (k, v) for k, v in node.value}
    for key, (knode, _) in keys.items():
        if key not in INTENT_KEYS:
            problems.append(Problem(name, _line(knode),
                                    f"unknown key '{key}' (allowed: {', '.join(sorted(INTENT_KEYS))})"))
    before = len(problems)
    intent_id = _scalar(keys.get("id", (None, None))[1])
    if not intent_id:
        problems.append(Problem(name, line, "intent without 'id'"))
        return None
    if not _ID_RE.match(intent_id):
        problems.append(Problem(name, line, f"id '{intent_id}': use lowercase letters, digits and '_'"))
    label = f"intent '{intent_id}'"

    title = _scalar(keys.get("title", (None, None))[1])
    if not title:
        problems.append(Problem(name, line, f"{label}: missing 'title' (a short button label)"))
        title = intent_id.replace("_", " ").capitalize()
    elif len(title) > MAX_TITLE:
        problems.append(Problem(name, _line(keys["title"][1]),
                                f"{label}: title is {len(title)} characters (at most {MAX_TITLE})"))
    topic = _scalar(keys.get("topic", (None, None))[1]) or "general"

    examples: list[Example] = []
    ex_node = keys.get("examples", (None, None))[1]
    if ex_node is None:
        problems.append(Problem(name, line, f"{label}: missing 'examples'"))
    elif not isinstance(ex_node, yaml.MappingNode):
        problems.append(Problem(name, _line(ex_node), f"{label}: 'examples' must map a language code to a list"))
    else:
        for lang_node, list_node in ex_node.value:
            lang = str(lang_node.value)
            if not _LANG_RE.match(lang):
                problems.append(Problem(name, _line(lang_node), f"{label}: '{lang}' is not a language code"))
                continue
            if not isinstance(list_node, yaml.SequenceNode):
                problems.append(Problem(name, _line(list_node), f"{label}: examples.{lang} must be a list"))
                continue
            for item in list_node.value:
                text = _scalar(item)
                if not isinstance(item, yaml.ScalarNode) or not text or not text.strip():
                    problems.append(Problem(name, _line(item), f"{label}: empty or non-text example in {lang}",
                                            column=_column(item)))
                    continue
                examples.append(Example(text.strip(), lang, name, _line(item)))
        have = {e.language for e in examples}
        for lang in REQUIRED_LANGUAGES:
            if lang not in have:
                problems.append(Problem(name, _line(ex_node), f"{label}: no examples in '{lang}' (required)"))

    answer_node = keys.get("answer", (None, None))[1]
    answer = _scalar(answer_node)
    if intent_id != OUT_OF_SCOPE and not (answer and answer.strip()):
        problems.append(Problem(name, line, f"{label}: missing English 'answer'"))

    choices: list[str] = []
    choice_lines: tuple[int, ...] = ()
    ch_node = keys.get("choices", (None, None))[1]
    if ch_node is not None:
        if isinstance(ch_node, yaml.SequenceNode):
            choices = [str(_scalar(c)) for c in ch_node.value]
            choice_lines = tuple(_line(c) for c in ch_node.value)
        else:
            problems.append(Problem(name, _line(ch_node), f"{label}: 'choices' must be a list of intent ids"))

    flow = handoff = None
    action = keys.get("action", (None, None))[1]
    if action is not None:
        if not isinstance(action, yaml.MappingNode):
            problems.append(Problem(name, _line(action), f"{label}: 'action' must be a mapping (flow: or handoff:)"))
        else:
            for k, v in action.value:
                value = _scalar(v)
                if k.value == "flow":
                    if value not in FLOWS:
                        problems.append(Problem(name, _line(v), f"{label}: flow '{value}' (allowed: {', '.join(FLOWS)})"))
                    flow = value
                elif k.value == "handoff":
                    if value not in HANDOFFS:
                        problems.append(Problem(name, _line(v), f"{label}: handoff '{value}' (allowed: {', '.join(HANDOFFS)})"))
                    handoff = value
                else:
                    problems.append(Problem(name, _line(k), f"{label}: unknown action '{k.value}' (allowed: flow, handoff)"))
    if len(problems) > before and any(p.severity == "error" and p.message.startswith(f"id '{intent_id}'")
                                      for p in problems[before:]):
        return None
    return Intent(intent_id, title, topic, tuple(examples), reflow(answer) if answer else None,
                  tuple(choices), flow, handoff, name, line,
                  answer_at=(_line(answer_node), _column(answer_node)) if answer_node is not None else (0, 0),
                  placeholder_at=_placeholders_at(answer_node, source), choice_lines=choice_lines)


def _placeholders_at(node: Any, text: str) -> tuple[tuple[str, int, int], ...]:
    """Each `{name}` written in a scalar's source, with its line and column (1-based)."""
    if not isinstance(node, yaml.ScalarNode) or not text:
        return ()
    lines = text.split("\n")
    start = sum(len(x) + 1 for x in lines[:node.start_mark.line]) + node.start_mark.column
    end = sum(len(x) + 1 for x in lines[:node.end_mark.line]) + node.end_mark.column
    out = []
    for match in _PLACEHOLDER.finditer(text, start, end):
        offset = match.start()
        line = text.count("\n", 0, offset) + 1
        out.append((match.group(1), line, offset - (text.rfind("\n", 0, offset) + 1) + 1))
    return tuple(out)


_PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}!:]*)[}!:]")


def _get(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _scalar(node: Any) -> str | None:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return None


def _line(node: Any) -> int:
    return node.start_mark.line + 1 if node is not None and getattr(node, "start_mark", None) else 0


def _column(node: Any) -> int:
    return node.start_mark.column + 1 if node is not None and getattr(node, "start_mark", None) else 0
