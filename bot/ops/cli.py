"""`homeroom db …`: schema migration and information (backups and checks join here)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Callable

from bot.config import Settings

Handler = Callable[[Settings, argparse.Namespace], int]


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["migrate", "info"])
    return {"db": _db}


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
            return 0
        finally:
            await db.close()
    return asyncio.run(go())
