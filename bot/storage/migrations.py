"""The schema, as an ordered list of migrations. Append only: never edit a released step."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "families, conversation state, message log", """
        CREATE TABLE families (
            id              INTEGER PRIMARY KEY,
            channel         TEXT NOT NULL,
            channel_user_id TEXT NOT NULL,
            chat_id         TEXT NOT NULL,
            display_name    TEXT,
            language        TEXT,
            language_source TEXT,
            created_at      TEXT NOT NULL,
            last_seen_at    TEXT NOT NULL,
            UNIQUE (channel, channel_user_id)
        );
        CREATE TABLE conversation_state (
            family_id   INTEGER PRIMARY KEY REFERENCES families(id) ON DELETE CASCADE,
            flow        TEXT,
            step        TEXT,
            data        TEXT NOT NULL DEFAULT '{}',
            misses      INTEGER NOT NULL DEFAULT 0,
            choices     TEXT NOT NULL DEFAULT '[]',
            updated_at  TEXT NOT NULL
        );
        CREATE TABLE messages (
            id          INTEGER PRIMARY KEY,
            family_id   INTEGER NOT NULL REFERENCES families(id) ON DELETE CASCADE,
            direction   TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            text        TEXT NOT NULL,
            language    TEXT,
            translation TEXT,
            intent      TEXT,
            confidence  REAL,
            created_at  TEXT NOT NULL
        );
        CREATE INDEX messages_by_family ON messages (family_id, id);
        CREATE INDEX messages_by_time ON messages (created_at);
    """),
    (2, "tickets for hand-offs to staff", """
        CREATE TABLE tickets (
            id          INTEGER PRIMARY KEY,
            family_id   INTEGER NOT NULL REFERENCES families(id) ON DELETE CASCADE,
            language    TEXT NOT NULL,
            topic       TEXT NOT NULL,
            priority    TEXT NOT NULL CHECK (priority IN ('normal', 'urgent')),
            status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'resolved')),
            reason      TEXT NOT NULL,
            intent      TEXT,
            assignee    TEXT,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        );
        CREATE INDEX tickets_open ON tickets (status, priority, created_at);
        CREATE TABLE ticket_events (
            id          INTEGER PRIMARY KEY,
            ticket_id   INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
            kind        TEXT NOT NULL,
            author      TEXT NOT NULL,
            text        TEXT NOT NULL,
            language    TEXT,
            translation TEXT,
            created_at  TEXT NOT NULL
        );
        CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id);
    """),
    (3, "conversation state version (optimistic concurrency for the engine's cache)", """
        ALTER TABLE conversation_state ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    """),
    (4, "tickets say when staff need an interpreter", """
        ALTER TABLE tickets ADD COLUMN interpreter TEXT;
    """),
]

LATEST = MIGRATIONS[-1][0]
