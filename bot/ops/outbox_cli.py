"""`homeroom outbox`: the messages waiting or given up; sending a given-up one again, or
accepting that it will not go.

The outbox gives a row up ('dead') only after many failed attempts (a chat that no longer
exists, a Slack channel the app was removed from). `homeroom status` turns red for it; once the
cause is fixed, `homeroom outbox retry ID` (or `--all-dead`) puts it back in the queue, and the
running bot sends it. When it cannot be fixed (the family deleted their Telegram account),
`homeroom outbox ack ID` (or `--all-dead`) records who accepted that in the audit log, and status
stops counting it. Nothing is lost silently: a dead row stays until retention removes it.
Only counts and destinations are shown, never the text."""

from __future__ import annotations

import argparse
import asyncio
from typing import Callable

from bot.config import Settings
from bot.ops.database_path import require_existing_database

Handler = Callable[[Settings, argparse.Namespace], int]


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    box = sub.add_parser("outbox", help="messages waiting or given up; send a given-up one again")
    actions = box.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="waiting and given-up messages (no text)")
    listing.add_argument("--dead", action="store_true", help="only the given-up ones")
    retry = actions.add_parser("retry", help="queue given-up messages again")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all-dead", action="store_true", help="every given-up message")
    ack = actions.add_parser("ack", help="accept that given-up messages will not be sent (status goes green)")
    ack.add_argument("ids", nargs="*", type=int, metavar="ID")
    ack.add_argument("--all-dead", action="store_true", help="every given-up message not yet acknowledged")
    ack.add_argument("--as", dest="actor", help="your name for the audit log (default: login name)")
    return {"outbox": _outbox}


def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.messages import utcnow
    from bot.storage import Database, outbox

    require_existing_database(settings)

    async def go() -> int:
        db = await Database(settings.db_path).open(migrate=False)
        try:
            if args.action == "list":
                found = await db.run(outbox.undelivered, args.dead)
                for id_, status, channel, target, kind, attempts, created, error, acked in found:
                    reason = f"  last error: {error[:120]}" if error else ""
                    seen = f"  acknowledged {acked}" if acked else ""
                    print(f"#{id_}  {status:7}  {channel}:{target}  {kind}  attempts {attempts}  since {created}"
                          f"{seen}{reason}")
                print(f"{len(found)} message(s)")
                return 0
            if not args.ids and not args.all_dead:
                print(f"homeroom: name the messages to {args.action} (IDs from `homeroom outbox list --dead`) "
                      "or use --all-dead")
                return 2
            if args.action == "ack":
                import getpass

                actor = args.actor or getpass.getuser()
                done = await db.transact(outbox.acknowledge, None if args.all_dead else args.ids, actor,
                                         utcnow().isoformat())
                missing = sorted(set(args.ids) - set(done))
                print(f"{len(done)} message(s) acknowledged by {actor} (in the audit log); status no longer counts them")
                if missing:
                    print("not given-up, or acknowledged already: " + ", ".join(f"#{i}" for i in missing))
                return 0 if done or args.all_dead else 1
            count = await db.transact(outbox.requeue, None if args.all_dead else args.ids, utcnow().isoformat())
            print(f"{count} message(s) queued again; the running bot sends them")
            return 0 if count or args.all_dead else 1
        finally:
            await db.close()
    return asyncio.run(go())
