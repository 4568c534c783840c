"""State in SQLite through aiosqlite: one connection, explicit transactions, versioned schema."""

from bot.storage.db import Database, SchemaTooNewError

__all__ = ["Database", "SchemaTooNewError"]
