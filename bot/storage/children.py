"""A family's children, remembered once for every flow that asks "which child?" (absences,
conferences): the buttons of the next question, whichever flow the name was typed in.

One table, `family_children`; the same name in another case is the same child. Deleted with the
family (ON DELETE CASCADE, and /forgetme), and in the family's data export.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(slots=True)
class Child:
    id: int                  # the row's rowid: what a button names
    name: str
    class_name: str | None   # the class picked last, where a teacher has several
    teacher_id: str | None   # the teacher booked last for this child


def children(conn: sqlite3.Connection, family_id: int) -> list[Child]:
    """The family's children, the one named most recently first."""
    return [Child(*r) for r in conn.execute(
        "SELECT rowid, name, class_name, teacher_id FROM family_children WHERE family_id = ?"
        " ORDER BY last_used_at DESC, name", (family_id,))]


def remember(conn: sqlite3.Connection, family_id: int, name: str, now: str,
             class_name: str | None = None, teacher_id: str | None = None) -> None:
    """Keep the child's name for next time, as last written; a class or teacher not given keeps
    the one known (an absence report knows neither)."""
    row = conn.execute("SELECT name FROM family_children WHERE family_id = ? AND lower(name) = lower(?)",
                       (family_id, name)).fetchone()
    if row is not None:
        conn.execute("UPDATE family_children SET name = ?, class_name = COALESCE(?, class_name),"
                     " teacher_id = COALESCE(?, teacher_id), last_used_at = ? WHERE family_id = ? AND name = ?",
                     (name, class_name, teacher_id, now, family_id, row[0]))
    else:
        conn.execute("INSERT INTO family_children (family_id, name, class_name, teacher_id, created_at,"
                     " last_used_at) VALUES (?, ?, ?, ?, ?, ?)", (family_id, name, class_name, teacher_id, now, now))
