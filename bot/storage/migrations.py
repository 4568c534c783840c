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
    (6, "outbox, processed events, append-only audit log, ticket delivery fields", """
        CREATE TABLE outbox (
            id              INTEGER PRIMARY KEY,
            channel         TEXT NOT NULL,
            target          TEXT NOT NULL,
            kind            TEXT NOT NULL,
            ticket_id       INTEGER REFERENCES tickets(id) ON DELETE CASCADE,
            payload         TEXT NOT NULL,
            status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error      TEXT,
            created_at      TEXT NOT NULL,
            sent_at         TEXT
        );
        CREATE INDEX outbox_pending ON outbox (status, channel, next_attempt_at, id);
        CREATE TABLE processed_events (
            source       TEXT NOT NULL,
            event_id     TEXT NOT NULL,
            processed_at TEXT NOT NULL,
            PRIMARY KEY (source, event_id)
        );
        CREATE TABLE audit_log (
            id      INTEGER PRIMARY KEY,
            actor   TEXT NOT NULL,
            action  TEXT NOT NULL,
            subject TEXT NOT NULL,
            at      TEXT NOT NULL
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        ALTER TABLE tickets ADD COLUMN staff_ref TEXT;
        ALTER TABLE tickets ADD COLUMN first_response_at TEXT;
        ALTER TABLE tickets ADD COLUMN resolved_at TEXT;
    """),
    (5, "telegram inbox", """
        CREATE TABLE inbox (
            channel     TEXT NOT NULL,
            update_id   INTEGER NOT NULL,
            chat_id     TEXT,
            payload     TEXT,
            received_at TEXT NOT NULL,
            handled_at  TEXT,
            outcome     TEXT,
            attempts    INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (channel, update_id)
        );
        CREATE INDEX inbox_unhandled ON inbox (channel, received_at) WHERE handled_at IS NULL;
        CREATE TABLE group_notices (
            channel     TEXT NOT NULL,
            chat_id     TEXT NOT NULL,
            notified_at TEXT NOT NULL,
            PRIMARY KEY (channel, chat_id)
        );
    """),
]

MIGRATIONS.sort(key=lambda m: m[0])  # kept in version order whatever order steps were added in
LATEST = MIGRATIONS[-1][0]
