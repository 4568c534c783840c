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
    (7, "sign-ups", """
        CREATE TABLE signup_opportunities (
            id              TEXT PRIMARY KEY,
            title           TEXT NOT NULL,
            description     TEXT NOT NULL DEFAULT '',
            location        TEXT NOT NULL DEFAULT '',
            requirements    TEXT NOT NULL DEFAULT '[]',
            who_may_sign_up TEXT,
            bring           TEXT,
            source          TEXT,
            active          INTEGER NOT NULL DEFAULT 1,
            updated_at      TEXT NOT NULL
        );
        CREATE TABLE signup_shifts (
            id              INTEGER PRIMARY KEY,
            opportunity_id  TEXT NOT NULL REFERENCES signup_opportunities(id),
            key             TEXT NOT NULL,
            starts_at       TEXT NOT NULL,
            ends_at         TEXT NOT NULL,
            tz              TEXT NOT NULL,
            capacity        INTEGER NOT NULL CHECK (capacity >= 0),
            active          INTEGER NOT NULL DEFAULT 1,
            UNIQUE (opportunity_id, key)
        );
        CREATE TABLE conference_teachers (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL,
            class_name  TEXT NOT NULL DEFAULT '',
            room        TEXT,
            video_link  TEXT,
            languages   TEXT NOT NULL DEFAULT '["en"]',
            source      TEXT,
            active      INTEGER NOT NULL DEFAULT 1,
            updated_at  TEXT NOT NULL
        );
        CREATE TABLE conference_slots (
            id          INTEGER PRIMARY KEY,
            teacher_id  TEXT NOT NULL REFERENCES conference_teachers(id),
            key         TEXT NOT NULL,
            starts_at   TEXT NOT NULL,
            ends_at     TEXT NOT NULL,
            tz          TEXT NOT NULL,
            active      INTEGER NOT NULL DEFAULT 1,
            UNIQUE (teacher_id, key)
        );
        CREATE INDEX conference_slots_by_teacher ON conference_slots (teacher_id, starts_at);
        CREATE TABLE signup_bookings (
            id              INTEGER PRIMARY KEY,
            family_id       INTEGER NOT NULL REFERENCES families(id) ON DELETE CASCADE,
            kind            TEXT NOT NULL CHECK (kind IN ('volunteer', 'conference')),
            shift_id        INTEGER REFERENCES signup_shifts(id),
            slot_id         INTEGER REFERENCES conference_slots(id),
            teacher_id      TEXT REFERENCES conference_teachers(id),
            name            TEXT NOT NULL,
            language        TEXT NOT NULL,
            status          TEXT NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
            position        INTEGER,
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL,
            promoted_at     TEXT,
            cancelled_at    TEXT,
            idempotency_key TEXT UNIQUE,
            CHECK ((kind = 'volunteer' AND shift_id IS NOT NULL AND slot_id IS NULL)
                   OR (kind = 'conference' AND slot_id IS NOT NULL AND teacher_id IS NOT NULL
                       AND shift_id IS NULL)),
            CHECK ((status = 'waitlisted') = (position IS NOT NULL))
        );
        CREATE UNIQUE INDEX signup_bookings_family_shift ON signup_bookings (family_id, shift_id)
            WHERE kind = 'volunteer' AND status != 'cancelled';
        CREATE UNIQUE INDEX signup_bookings_family_teacher ON signup_bookings (family_id, teacher_id)
            WHERE kind = 'conference' AND status != 'cancelled';
        CREATE UNIQUE INDEX signup_bookings_slot ON signup_bookings (slot_id)
            WHERE kind = 'conference' AND status != 'cancelled';
        CREATE INDEX signup_bookings_by_shift ON signup_bookings (shift_id, status, position);
        CREATE INDEX signup_bookings_by_family ON signup_bookings (family_id, status);
        CREATE TABLE signup_reminders (
            booking_id  INTEGER PRIMARY KEY REFERENCES signup_bookings(id) ON DELETE CASCADE,
            sent_at     TEXT NOT NULL,
            outbox_id   INTEGER
        );
    """),
    (8, "numbers of families and tickets are never reused (bot/storage/numbers.py)", """
        CREATE TABLE id_high_water (
            name TEXT PRIMARY KEY,
            high INTEGER NOT NULL
        );
        INSERT INTO id_high_water (name, high) SELECT 'families', COALESCE(MAX(id), 0) FROM families;
        INSERT INTO id_high_water (name, high) SELECT 'tickets', COALESCE(MAX(id), 0) FROM tickets;
    """),
    (9, "a given-up outbox message can be acknowledged (homeroom outbox ack): status goes green", """
        ALTER TABLE outbox ADD COLUMN acknowledged_at TEXT;
    """),
    (10, "an open urgent report outlives /forgetme until staff close it (bot/privacy/family_data.py)", """
        CREATE TABLE kept_reports (
            ticket_id   INTEGER PRIMARY KEY,   -- the ticket's number, which staff already know
            topic       TEXT NOT NULL,
            intent      TEXT,
            language    TEXT NOT NULL,
            reported_at TEXT NOT NULL,
            text        TEXT NOT NULL,         -- what the family reported; no chat, no name
            english     TEXT,
            kept_at     TEXT NOT NULL
        );
    """),
    (11, "closures announced on the day (homeroom closure add): answered before the school calendar", """
        CREATE TABLE closures (
            day         TEXT PRIMARY KEY,      -- YYYY-MM-DD, the school's date
            reason      TEXT NOT NULL,         -- what staff wrote ("Snow day"), shown to families
            added_by    TEXT NOT NULL,
            added_at    TEXT NOT NULL
        );
    """),
    (12, "conferences know the child; a booking keeps one calendar UID and a SEQUENCE (bot/signups/ics.py)", """
        CREATE TABLE family_children (
            family_id    INTEGER NOT NULL REFERENCES families(id) ON DELETE CASCADE,
            name         TEXT NOT NULL,
            class_name   TEXT,                -- the class picked last, where a teacher has several
            teacher_id   TEXT,                -- the teacher booked last for this child
            created_at   TEXT NOT NULL,
            last_used_at TEXT NOT NULL,
            PRIMARY KEY (family_id, name)
        );
        ALTER TABLE signup_bookings ADD COLUMN child_name TEXT;
        ALTER TABLE signup_bookings ADD COLUMN child_class TEXT;
        ALTER TABLE signup_bookings ADD COLUMN calendar_uid TEXT;      -- NULL: made from the booking's id
        ALTER TABLE signup_bookings ADD COLUMN calendar_sequence INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE conference_teachers ADD COLUMN classes TEXT NOT NULL DEFAULT '[]';
    """),
    (13, "absences families report in the chat (bot/absences): one row per confirmed report", """
        CREATE TABLE absences (
            id          INTEGER PRIMARY KEY,
            family_id   INTEGER NOT NULL REFERENCES families(id) ON DELETE CASCADE,
            child       TEXT NOT NULL,
            guardian    TEXT NOT NULL DEFAULT '',
            language    TEXT NOT NULL,
            days        TEXT NOT NULL,         -- school days, ISO dates joined by ','
            first_day   TEXT NOT NULL,
            last_day    TEXT NOT NULL,
            reason      TEXT NOT NULL CHECK (reason IN ('sick', 'appointment', 'family', 'other')),
            note        TEXT NOT NULL DEFAULT '',
            notified    TEXT NOT NULL DEFAULT '',  -- staff channels told ('slack,email'; '': export only)
            reported_at TEXT NOT NULL,
            key         TEXT NOT NULL UNIQUE   -- family:confirm-token: a repeated tap records once
        );
        CREATE INDEX absences_by_family ON absences (family_id, id);
        CREATE INDEX absences_by_day ON absences (first_day, last_day);
    """),
    (14, "one list of a family's children for every flow (bot/storage/children.py): absences' children join it", """
        INSERT INTO family_children (family_id, name, created_at, last_used_at)
        SELECT a.family_id, a.child, MIN(a.reported_at), MAX(a.reported_at) FROM absences a
        WHERE NOT EXISTS (SELECT 1 FROM family_children f
                          WHERE f.family_id = a.family_id AND lower(f.name) = lower(a.child))
        GROUP BY a.family_id, lower(a.child);
    """),
    (15, "conversation state by owner (bot/storage/conversations.py): flat keys move into their owner's namespace", """
        -- json_extract / json_type only (SQLite 3.9+): the -> operator needs 3.38, newer than some distributions ship
        UPDATE conversation_state SET data = json_set(json_remove(data, '$.ticket'), '$.handoff.ticket', json_extract(data, '$.ticket'))
        WHERE json_type(data, '$.ticket') IN ('integer', 'real', 'text');
        UPDATE conversation_state SET data = json_set(json_remove(data, '$.asked_lang'), '$.language.asked', json_extract(data, '$.asked_lang'))
        WHERE json_type(data, '$.asked_lang') IN ('integer', 'real', 'text');
        UPDATE conversation_state SET data = json_set(json_remove(data, '$.declined_lang'), '$.language.declined', json_extract(data, '$.declined_lang'))
        WHERE json_type(data, '$.declined_lang') IN ('integer', 'real', 'text');
        UPDATE conversation_state SET data = json_set(json_remove(data, '$.forgetme'), '$.forgetme.token', json_extract(data, '$.forgetme'))
        WHERE json_type(data, '$.forgetme') IN ('integer', 'real', 'text');
        UPDATE conversation_state SET data = json_set(json_remove(data, '$.ticket_acked'), '$.handoff.acked',
                                                      json(json_type(data, '$.ticket_acked')))
        WHERE json_type(data, '$.ticket_acked') IN ('true', 'false');
    """),
]

MIGRATIONS.sort(key=lambda m: m[0])  # kept in version order whatever order steps were added in
LATEST = MIGRATIONS[-1][0]
