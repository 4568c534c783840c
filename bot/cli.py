"""The `homeroom` command (also `python -m bot`). Exit codes: 0 ok, 1 failure, 2 usage or config error."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from typing import Sequence

from bot import __version__
from bot.config import ConfigError, Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
# Modules with `register(subparsers) -> {command: handler}`; they import heavy things lazily.
PLUGINS = ("bot.ops.cli", "bot.ops.outbox_cli", "bot.privacy.cli", "bot.reports.cli", "bot.calendar.cli",
           "bot.absences.cli")


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
    tickets = sub.add_parser("tickets", help="hand-offs to staff: list, show, claim, reply, resolve, reopen")
    tickets.add_argument("action", choices=["list", "show", "claim", "reply", "resolve", "reopen"])
    tickets.add_argument("ticket", nargs="?", type=int, help="ticket number")
    tickets.add_argument("text", nargs="*", help="reply text (start with 'note:' for an internal note)")
    tickets.add_argument("--as", dest="staff", help="your name for the audit log (default: login name)")
    languages = sub.add_parser("languages", help="machine-translation models and curated coverage")
    lang_sub = languages.add_subparsers(dest="action", metavar="ACTION", required=True)
    lang_sub.add_parser("list", help="installed translation pairs and curated coverage per language")
    install = lang_sub.add_parser("install", help="download and install models for languages (needs internet)")
    install.add_argument("codes", nargs="+", metavar="CODE")
    install_file = lang_sub.add_parser("install-file", help="install a downloaded .argosmodel file (offline)")
    install_file.add_argument("path")
    locales = sub.add_parser("locales", help="gettext catalogs: extract the template, update languages, check")
    locales.add_argument("action", choices=["extract", "update", "check"])
    signups = sub.add_parser("signups", help="volunteer and conference sign-ups: list, export, import")
    signups.add_argument("action", choices=["list", "export", "import"])
    signups.add_argument("file", nargs="?", help="the CSV file to import")
    signups.add_argument("--csv", action="store_true", help="export: write CSV to stdout")
    sub.add_parser("version", help="print the version")
    for module in PLUGINS:  # packages that bring their own sub-commands
        _COMMANDS.update(importlib.import_module(module).register(sub))
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
    """Every configured channel: Slack staff hand-off (with Telegram when both are set),
    Telegram alone, or the terminal chat when no token is set."""
    if settings.slack_bot_token or settings.telegram_token:
        from bot.runner import run_channels

        return asyncio.run(run_channels(settings))
    return _chat(settings, args)


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot import logs
    from bot.app import start
    from bot.channels.terminal import ChatLogNotices, run_terminal

    # the log would land between the messages: it goes to a file, and the chat says where
    # (once, at the start) and gives a warning or error one line of its own
    notices = ChatLogNotices(settings.data_dir / "homeroom-chat.log")
    logs.setup("DEBUG" if args.verbose else settings.log_level, settings.log_format, settings.secrets(),
               path=notices.path, also=(notices,))

    async def go() -> int:
        app = await start(settings)
        try:
            return await run_terminal(app.engine, app.profile.name, user=getattr(args, "user", None),
                                      language=getattr(args, "lang", None), delivery=app.delivery,
                                      staff_tool=bool(settings.slack_bot_token), background=app.background_jobs(),
                                      downloads=settings.data_dir / "downloads", log_notices=notices)
        finally:
            await app.close()
    return asyncio.run(go())


def _classify(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import load_understanding

    matcher = load_understanding(settings)[1].matcher
    out = sys.stdout
    items: list[tuple[str, str | None] | str] = []  # (text, lang), or an error line
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
                items.append(json.dumps({"error": f"line {number}: not a JSON object"}))
                continue
        items.append((text, lang))
    asked = [i for i in items if isinstance(i, tuple)]
    results = iter(matcher.classify_many([t for t, _ in asked], [l for _, l in asked]))  # one batch
    for item in items:
        if isinstance(item, str):
            out.write(item + "\n")
            continue
        result = next(results)
        if args.json:
            out.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        else:
            out.write(f"{result.decision}\t{result.intent or '-'}\t{result.confidence:.2f}\t"
                      f"{','.join(result.candidate_ids)}\n")
    out.flush()
    matcher.close()
    return EXIT_OK


def _catalog(settings: Settings, args: argparse.Namespace) -> int:
    from bot.config import load_school_profile
    from bot.understanding import quality
    from bot.understanding.catalog import load_catalog

    profile = load_school_profile(settings.school_profile_path)
    catalog = load_catalog(settings.intents_dir, profile.info)
    matcher = None
    if not catalog.errors:
        from bot.understanding.embedding_cache import progress_reporter
        from bot.understanding.pipeline import build_matcher

        matcher, status = build_matcher(catalog, settings, progress_reporter("Learning the catalog"))
        if status.backend != "semantic":
            print(f"note: semantic model not in use ({status.reason}); figures are the lexical matcher's",
                  file=sys.stderr)
    if args.action == "check":
        if not catalog.errors:
            catalog.problems.extend(quality.confusable_pairs(catalog))
            catalog.problems.extend(quality.meaning_confusions(matcher))
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
    print(quality.semantic_stats_report(catalog, matcher) if getattr(matcher, "fitted", None)
          else quality.stats_report(catalog))
    return EXIT_OK


def _signups(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.database_path import require_existing_database
    from bot.signups.cli import signups_command

    require_existing_database(settings)  # staff commands never create one (bot/ops/database_path.py)
    return signups_command(settings, args)


def _tickets(settings: Settings, args: argparse.Namespace) -> int:
    """Staff's terminal tool when the school has no Slack: replies reach families through the
    outbox, delivered by the running bot (or the next `homeroom chat` of a terminal parent)."""
    import getpass

    from bot.app import start
    from bot.handoff import TicketError
    from bot.ops.database_path import require_existing_database

    require_existing_database(settings)  # else "no open tickets" from a new, empty database
    staff = args.staff or getpass.getuser()

    async def go() -> int:
        app = await start(settings)
        try:
            if args.action == "list":
                rows = await app.handoff.list_open()
                kept = await app.handoff.list_kept()
                if not rows and not kept:
                    print("no open tickets")
                for t in rows:
                    flag = f"  needs interpreter: {t.interpreter}" if t.interpreter else ""
                    print(f"#{t.id:<4} {t.priority:6} {t.status:8} {t.topic:16} {t.language:3} "
                          f"opened {t.created_at[:16].replace('T', ' ')}  {t.reason}{flag}")
                for r in kept:
                    print(f"#{r.ticket_id:<4} urgent kept     {r.topic:16} {r.language:3} "
                          f"opened {r.reported_at[:16].replace('T', ' ')}  the family deleted their data; "
                          f"close it with `homeroom tickets resolve {r.ticket_id}`")
                return EXIT_OK
            if args.ticket is None:
                print(f"homeroom: tickets {args.action} needs a ticket number", file=sys.stderr)
                return EXIT_USAGE
            kept = next((r for r in await app.handoff.list_kept() if r.ticket_id == args.ticket), None)
            if kept is not None:
                return await _kept_report(app.handoff, kept, args, staff)
            if args.action == "show":
                ticket, events, family, earlier = await app.handoff.view(args.ticket, staff)
                print(f"ticket #{ticket.id}: {ticket.status}, {ticket.priority}, topic {ticket.topic}, "
                      f"language {ticket.language}" + (f", needs interpreter: {ticket.interpreter}"
                                                       if ticket.interpreter else ""))
                print(f"  family: {family or '(no name)'}")
                if earlier:
                    print("  earlier in the conversation:")
                    for direction, said, english in earlier:
                        line = f"    {'parent' if direction == 'in' else 'bot'}: {' '.join(said.split())[:300]}"
                        print(line + (f" (English: {english})" if direction == "in" and english else ""))
                for kind, author, text, language, translation, at in events:
                    line = f"  {at[:16].replace('T', ' ')} {kind:7} {author}: {text}"
                    if translation and kind == "parent":
                        line += f"\n{'':26}(English: {translation})"
                    elif translation and kind == "staff":
                        line += f"\n{'':26}(sent: {translation})"
                    print(line)
                return EXIT_OK
            if args.action == "reply":
                text = " ".join(args.text).strip()
                if not text:
                    print("homeroom: tickets reply N TEXT: the text is missing", file=sys.stderr)
                    return EXIT_USAGE
                outcome = await app.handoff.reply(args.ticket, staff, text)
                print(outcome.staff_note)
                if not outcome.internal:
                    print(f"the family will read:\n{outcome.text_sent}")
                return EXIT_OK
            action = {"claim": app.handoff.claim, "resolve": app.handoff.resolve, "reopen": app.handoff.reopen}
            ticket = await action[args.action](args.ticket, staff)
            print(f"ticket #{ticket.id} is {ticket.status}")
            return EXIT_OK
        except TicketError as exc:
            print(f"homeroom: {exc}", file=sys.stderr)
            return EXIT_FAIL
        finally:
            await app.close()
    return asyncio.run(go())


async def _kept_report(handoff, kept, args: argparse.Namespace, staff: str) -> int:
    """`homeroom tickets show|resolve N` for an urgent report kept after /forgetme."""
    if args.action == "show":
        print(f"ticket #{kept.ticket_id}: urgent report kept after the family deleted their data "
              f"({kept.kept_at[:16].replace('T', ' ')}); topic {kept.topic}, language {kept.language}")
        print(f"  reported {kept.reported_at[:16].replace('T', ' ')}: {kept.text}")
        if kept.english:
            print(f"{'':26}(English: {kept.english})")
        print(f"  The family cannot be answered here. Close it when the school has acted: "
              f"homeroom tickets resolve {kept.ticket_id}")
        return EXIT_OK
    if args.action == "resolve":
        await handoff.close_kept(kept.ticket_id, staff)
        print(f"urgent report #{kept.ticket_id} closed and deleted")
        return EXIT_OK
    print(f"homeroom: ticket {kept.ticket_id} is an urgent report kept after the family deleted their data: "
          "it can only be shown or resolved", file=sys.stderr)
    return EXIT_FAIL


def _languages(settings: Settings, args: argparse.Namespace) -> int:
    from bot import locale_files
    from bot.app import argos_dir
    from bot.config import load_school_profile
    from bot.translation.machine import EXTRA_HINT, ArgosTranslator, TranslationError
    from bot.understanding.language import ENGLISH_NAMES

    profile = load_school_profile(settings.school_profile_path)
    translator = ArgosTranslator(argos_dir(settings), glossary=profile.glossary)
    if args.action != "list" and not translator.available():
        print(f"homeroom: machine translation is not installed; add it with: {EXTRA_HINT}", file=sys.stderr)
        return EXIT_FAIL
    if args.action == "install-file":
        try:
            pair = translator.install_file(args.path)
        except TranslationError as exc:
            print(f"homeroom: {exc}", file=sys.stderr)
            return EXIT_FAIL
        print(f"installed {pair[0]} -> {pair[1]} into {argos_dir(settings)}")
        return EXIT_OK
    if args.action == "install":
        return _download_models(translator, args.codes)

    if translator.available():
        pairs = translator.installed_pairs()
        print("machine translation: " + (", ".join(f"{a}->{b}" for a, b in pairs) if pairs
                                         else "no models installed (homeroom languages install CODE, "
                                              "or install-file PATH.argosmodel offline)"))
    else:
        print(f"machine translation: not installed (curated text only); add it with: {EXTRA_HINT}")
    _, coverage = locale_files.check(settings.locales_dir)
    by_lang = {c.language: c for c in coverage}
    print(f"{'lang':5} {'name':16} {'curated':>8} {'fuzzy':>6} {'missing':>8}  machine  school wording")
    for code in profile.languages:
        c = by_lang.get(code)
        both = translator.available() and translator.can_translate("en", code) and translator.can_translate(code, "en")
        curated = "all" if code == "en" else (str(c.translated) if c else "0")
        # how many [info] values the school wrote in this language ([info.<code>] in school.toml)
        wording = "all" if code == "en" else f"{len(profile.info_translations.get(code, {}))}/{len(profile.info)}"
        print(f"{code:5} {ENGLISH_NAMES.get(code, code):16} {curated:>8} {c.fuzzy if c else 0:>6} "
              f"{c.missing if c else 0:>8}  {'yes' if code == 'en' or both else 'no':7}  {wording}")
    return EXIT_OK


def _download_models(translator, codes: list[str]) -> int:
    """Fetch en<->CODE models from the Argos package index (the only command that uses the network)."""
    import socket
    import tempfile
    import urllib.request

    socket.setdefaulttimeout(20)
    try:
        package_mod = translator._argos_package()
        from argostranslate import settings as argos_settings

        # argostranslate retries a failed index download without end: ask once ourselves first
        urllib.request.urlopen(argos_settings.remote_package_index, timeout=15).close()
        package_mod.update_package_index()
        available = package_mod.get_available_packages()
    except Exception as exc:
        print(f"homeroom: cannot reach the Argos package index ({exc.__class__.__name__}: {exc}). "
              "Offline? Download the .argosmodel files elsewhere and use: "
              "homeroom languages install-file PATH.argosmodel", file=sys.stderr)
        return EXIT_FAIL
    failed = 0
    for code in codes:
        for source, target in (("en", code), (code, "en")):
            match = [p for p in available if p.from_code == source and p.to_code == target]
            if not match:
                print(f"no model for {source}->{target} in the index (a person will interpret for this language)")
                failed += 1
                continue
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    path = f"{tmp}/{source}_{target}.argosmodel"
                    urllib.request.urlretrieve(match[0].links[0], path)
                    translator.install_file(path)
                print(f"installed {source} -> {target}")
            except Exception as exc:
                print(f"homeroom: {source}->{target} failed: {exc}", file=sys.stderr)
                failed += 1
    return EXIT_FAIL if failed else EXIT_OK


def _locales(settings: Settings, args: argparse.Namespace) -> int:
    from bot import locale_files
    from bot.config import load_school_profile
    from bot.understanding.catalog import load_catalog

    profile = load_school_profile(settings.school_profile_path)
    catalog = load_catalog(settings.intents_dir, profile.info)
    if catalog.errors:
        print(catalog.report(), file=sys.stderr)
        return EXIT_FAIL
    from bot.signups.definitions import load_definitions

    signups = load_definitions(settings.signups_dir, profile.timezone) if settings.signups_dir.is_dir() else None
    calendar = None
    if profile.calendar_source and not profile.calendar_source.startswith(("https://", "http://")):
        from bot.calendar.load import CalendarError, load_calendar
        try:  # its event names get curated translations like the sign-up titles
            calendar = load_calendar(profile.calendar_source, profile.path.parent, settings.data_dir, profile.tz)
        except CalendarError as exc:
            print(f"homeroom: the calendar's event names are left out: {exc}", file=sys.stderr)
    template = locale_files.build_template(catalog, signups=signups, calendar=calendar)
    if args.action in ("extract", "update"):
        path = locale_files.write_template(template, settings.locales_dir)
        print(f"wrote {path} ({len(template)} messages)")
    if args.action == "update":
        languages = [lang for lang in profile.languages if lang != "en"]
        for path in locale_files.update_languages(template, settings.locales_dir, languages):
            print(f"updated {path}")
    problems, coverage = locale_files.check(settings.locales_dir, template)
    for problem in problems:
        print(problem)
    for c in coverage:
        print(f"{c.language}: {c.translated} translated, {c.fuzzy} fuzzy, {c.missing} missing")
    return EXIT_FAIL if problems else EXIT_OK


_COMMANDS = {"run": _run, "chat": _chat, "classify": _classify, "catalog": _catalog, "locales": _locales, "languages": _languages, "tickets": _tickets, "signups": _signups}
