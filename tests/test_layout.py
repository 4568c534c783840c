"""The layout the README promises a newcomer: no import cycles between Homeroom's modules, a
conversation core that knows no chat platform, and adapters that use only the core's public
surface (messages, ordering, the Engine class) — never its internals."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "bot"
PLATFORMS = ("telegram", "slack_bolt", "slack_sdk", "smtplib", "aiosmtplib", "aiosmtpd", "email.mime")
# what the core offers channels; anything else in bot.core is the engine's own business
CORE_FOR_CHANNELS = {"bot.core.messages", "bot.core.ordering", "bot.core.engine:Engine"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(path: Path, everywhere: bool = False) -> list[tuple[str, list[str]]]:
    """(module, names) for every import run when the module is imported (not under TYPE_CHECKING,
    not inside a function), or with `everywhere` every import statement in the file."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node) if everywhere or isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                found.append((inner.module, [a.name for a in inner.names]))
            elif isinstance(inner, ast.Import):
                found.extend((a.name, []) for a in inner.names)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = set()
        for module, names in _imports(path):
            if module.split(".")[0] != "bot":
                continue
            subs = {f"{module}.{n}" for n in names} & MODULES.keys()
            edges |= subs or ({module} & MODULES.keys())
        graph[name] = edges - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Outside the channels, only the assembly builds channels; the weekly report is posted to Slack
# as Slack blocks (its rendering lives with the report, the blocks kit with the Slack adapter).
MAY_USE_CHANNELS = {"bot.app", "bot.runner", "bot.service", "bot.cli", "bot.reports.weekly"}


def test_only_channels_know_a_chat_platform():
    """Checked on every import in the file, also the ones inside functions."""
    offenders = [(name, module) for name, path in MODULES.items() if not name.startswith("bot.channels")
                 for module, _ in _imports(path, everywhere=True)
                 if module.startswith(PLATFORMS)
                 or (module.startswith("bot.channels") and name not in MAY_USE_CHANNELS)]
    assert offenders == []


def test_adapters_use_only_the_cores_public_surface():
    offenders = []
    for name, path in MODULES.items():
        if not name.startswith("bot.channels"):
            continue
        for module, names in _imports(path):
            if not module.startswith("bot.core"):
                continue
            allowed = module in CORE_FOR_CHANNELS or all(f"{module}:{n}" in CORE_FOR_CHANNELS for n in names)
            if not allowed:
                offenders.append((name, module, names))
    assert offenders == []
