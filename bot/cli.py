"""The `homeroom` command (also `python -m bot`). Exit codes: 0 ok, 1 failure, 2 usage or config error."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Sequence

from bot import __version__
from bot.config import ConfigError, Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homeroom", description=(
        "Homeroom: a school's chat bot for families. With no Telegram or Slack tokens, "
        "`homeroom` starts a terminal chat against the configured school."))
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG (includes message text)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run every configured channel (terminal chat when none is configured)")
    chat = sub.add_parser("chat", help="chat with the bot in this terminal, as a parent")
    chat.add_argument("--lang", help="language hint for a new family, e.g. es")
    chat.add_argument("--user", help="who you are in the chat (default: your login name)")
    classify = sub.add_parser("classify", help="classify lines from stdin (JSON Lines with --json)")
    classify.add_argument("--json", action="store_true",
                          help='read {"text": ..., "lang": optional} per line, print one JSON result per line')
    catalog = sub.add_parser("catalog", help="check the intent catalog or show its statistics")
    catalog.add_argument("action", choices=["check", "stats"])
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["migrate", "info"])
    sub.add_parser("version", help="print the version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    command = args.command or "run"
    if command == "version":
        print(f"homeroom {__version__}")
        return EXIT_OK
    try:
        settings = Settings.from_env()
        from bot import logs
        logs.setup("DEBUG" if args.verbose else settings.log_level, settings.log_format, settings.secrets())
        handler = _COMMANDS[command]
        return handler(settings, args)
    except ConfigError as exc:
        print(f"homeroom: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:  # known start-up failures carry their own clear message
        from bot.storage import SchemaTooNewError
        from bot.understanding.catalog import CatalogError
        if isinstance(exc, CatalogError):
            print(f"homeroom: the intent catalog has errors; fix them and start again:\n{exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, SchemaTooNewError):
            print(f"homeroom: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise


def _run(settings: Settings, args: argparse.Namespace) -> int:
    pending = [name for name, token in (("TELEGRAM_BOT_TOKEN", settings.telegram_token),
                                        ("SLACK_BOT_TOKEN", settings.slack_bot_token)) if token]
    if pending:
        print(f"homeroom: {', '.join(pending)} is set, but this version has no Telegram or Slack "
              "channel yet; unset it to use the terminal chat.", file=sys.stderr)
        return EXIT_USAGE
    return _chat(settings, args)


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import start
    from bot.channels.terminal import run_terminal

    async def go() -> int:
        app = await start(settings)
        try:
            return await run_terminal(app.engine, app.profile.name, user=getattr(args, "user", None),
                                      language=getattr(args, "lang", None))
        finally:
            await app.close()
    return asyncio.run(go())


def _classify(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import load_understanding

    _, _, matcher = load_understanding(settings)
    out = sys.stdout
    for number, raw in enumerate(sys.stdin.buffer, 1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        text, lang = line, None
        if args.json:
            try:
                item = json.loads(line)
                text, lang = str(item.get("text", "")), item.get("lang")
            except (json.JSONDecodeError, AttributeError):
                print(json.dumps({"error": f"line {number}: not a JSON object"}), file=out)
                continue
        result = matcher.classify(text, lang)
        if args.json:
            out.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        else:
            out.write(f"{result.decision}\t{result.intent or '-'}\t{result.confidence:.2f}\t"
                      f"{','.join(result.candidate_ids)}\n")
    out.flush()
    return EXIT_OK


def _catalog(settings: Settings, args: argparse.Namespace) -> int:
    from bot.config import load_school_profile
    from bot.understanding import quality
    from bot.understanding.catalog import load_catalog

    profile = load_school_profile(settings.school_profile_path)
    catalog = load_catalog(settings.intents_dir, profile.info)
    if args.action == "check":
        if not catalog.errors:
            catalog.problems.extend(quality.confusable_pairs(catalog))
        if catalog.problems:
            print(catalog.report())
        errors = len(catalog.errors)
        warnings = len(catalog.problems) - errors
        print(f"{len(catalog.intents)} intents in {len(catalog.files)} files: "
              f"{errors} error(s), {warnings} warning(s)")
        return EXIT_FAIL if errors else EXIT_OK
    if catalog.errors:
        print(catalog.report(), file=sys.stderr)
        return EXIT_FAIL
    print(quality.stats_report(catalog))
    return EXIT_OK


def _db(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage import Database
    from bot.storage.migrations import LATEST

    async def go() -> int:
        db = Database(settings.db_path)
        await db.open(migrate=args.action == "migrate")
        try:
            version = await db.schema_version()
            print(f"database: {settings.db_path}\nschema version: {version} (this Homeroom: {LATEST})")
            if args.action == "info" and version:
                for table in ("families", "messages", "tickets"):  # fixed names, not input
                    count = await db.run(lambda c, t=table: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                    print(f"{table}: {count}")
            return EXIT_OK
        finally:
            await db.close()
    return asyncio.run(go())


_COMMANDS = {"run": _run, "chat": _chat, "classify": _classify, "catalog": _catalog, "db": _db}
