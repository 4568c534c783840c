"""`homeroom outbox`: the messages waiting or given up, and sending a given-up one again.

The outbox gives a row up ('dead') only after many failed attempts (a chat that no longer
exists, a Slack channel the app was removed from). `homeroom status` turns red for it; once the
cause is fixed, `homeroom outbox retry ID` (or `--all-dead`) puts it back in the queue, and the
running bot sends it. Nothing is lost silently: a dead row stays until retention removes it.
Only counts and destinations are shown, never the text."""

from __future__ import annotations

import argparse
import asyncio
from typing import Callable

from bot.config import Settings

Handler = Callable[[Settings, argparse.Namespace], int]


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    box = sub.add_parser("outbox", help="messages waiting or given up; send a given-up one again")
    actions = box.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="waiting and given-up messages (no text)")
    listing.add_argument("--dead", action="store_true", help="only the given-up ones")
    retry = actions.add_parser("retry", help="queue given-up messages again")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all-dead", action="store_true", help="every given-up message")
    return {"outbox": _outbox}


def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.messages import utcnow
    from bot.storage import Database, outbox

    async def go() -> int:
        db = await Database(settings.db_path).open(migrate=False)
        try:
            if args.action == "list":
                found = await db.run(outbox.undelivered, args.dead)
                for id_, status, channel, target, kind, attempts, created, error in found:
                    reason = f"  last error: {error[:120]}" if error else ""
                    print(f"#{id_}  {status:7}  {channel}:{target}  {kind}  attempts {attempts}  since {created}{reason}")
                print(f"{len(found)} message(s)")
                return 0
            if not args.ids and not args.all_dead:
                print("homeroom: name the messages to retry (IDs from `homeroom outbox list --dead`) or use --all-dead")
                return 2
            count = await db.transact(outbox.requeue, None if args.all_dead else args.ids, utcnow().isoformat())
            print(f"{count} message(s) queued again; the running bot sends them")
            return 0 if count or args.all_dead else 1
        finally:
            await db.close()
    return asyncio.run(go())
