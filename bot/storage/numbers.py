"""Numbers that are never used twice. SQLite gives a new row the highest id + 1, so deleting the
newest family or ticket (/forgetme, retention) would hand its number to the next one — and
"family 12 deleted" in the audit log, or ticket #12 in a Slack thread, would then name two
different things. A high-water mark per table keeps every number unique for good."""

from __future__ import annotations

import sqlite3

TABLES = ("families", "tickets")  # fixed names, never input


def next_id(conn: sqlite3.Connection, table: str) -> int:
    """The id for a new row of `table` (call inside the inserting transaction)."""
    if table not in TABLES:
        raise ValueError(f"no number series for {table}")
    row = conn.execute("SELECT high FROM id_high_water WHERE name = ?", (table,)).fetchone()
    highest = conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
    number = max(row[0] if row else 0, highest) + 1
    conn.execute("INSERT INTO id_high_water (name, high) VALUES (?, ?)"
                 " ON CONFLICT (name) DO UPDATE SET high = excluded.high", (table, number))
    return number
