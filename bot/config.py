"""Settings from the environment and the school profile (TOML), validated once at start-up.

Secrets (tokens) come only from the environment and never appear in a repr or a log line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("kv", "json")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_MENU = ("report_absence", "school_hours", "transportation_bus", "lunch_menu",
                "school_calendar", "talk_to_human")
_LANG_RE = re.compile(r"^[a-z]{2,3}$")
_HOURS_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_SLACK_CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{2,}$")
_SLACK_USER_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
SMTP_SECURITY = ("starttls", "tls", "none")
_SLACK_MENTION_RE = re.compile(r"^<(!subteam\^[A-Z0-9]+|!here|!channel|@[UW][A-Z0-9]+)(\|[^<>]*)?>$")


class ConfigError(ValueError):
    """A setting is wrong: the message names it and says what is allowed."""


@dataclass(frozen=True)
class SlackProfile:
    """The school profile's [slack] table: where tickets go and who may answer them."""

    default_channel: str
    urgent_channel: str | None = None
    urgent_mention: str | None = None          # e.g. "<!subteam^S123>" (a user group)
    channels: Mapping[str, str] = field(default_factory=dict)   # topic -> channel id
    staff: tuple[str, ...] = ()                # user ids allowed besides channel members
    note_prefix: str = "note:"
    first_response_minutes: int = 30
    auto_resume_hours: int = 48                # 0: never resume on its own
    signups_channel: str | None = None         # sign-up alerts, digest (None: default_channel)
    digest_time: time = time(16, 0)            # the daily sign-ups digest, school time
    report_channel: str | None = None          # the weekly community report (None: not posted)

    def channel_for(self, topic: str, priority: str) -> str:
        if priority == "urgent" and self.urgent_channel:
            return self.urgent_channel
        return self.channels.get(topic, self.default_channel)

    @property
    def triage_channels(self) -> tuple[str, ...]:
        """Every channel a ticket can be posted to (their members are staff)."""
        found = [self.default_channel, *self.channels.values()]
        if self.urgent_channel:
            found.append(self.urgent_channel)
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class EmailProfile:
    """The school profile's [email] table: who gets tickets by email (the SMTP server itself is
    set in the environment, see `SmtpSettings`). Urgent tickets are mailed at once (with Slack:
    when nobody claimed them within `urgent_claim_minutes`); tickets nobody answered yet go in
    one digest a day at `digest_time`."""

    sender: str                                 # the From address
    to: tuple[str, ...]                         # the digest, and urgent tickets unless urgent_to
    urgent_to: tuple[str, ...] = ()
    topics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # topic -> addresses (digest)
    digest_time: time | None = time(16, 0)      # None: no digest
    urgent_claim_minutes: int = 10              # with Slack: email an urgent ticket nobody claimed by then

    def urgent_recipients(self) -> tuple[str, ...]:
        return self.urgent_to or self.to

    def digest_recipients(self, topic: str) -> tuple[str, ...]:
        return self.topics.get(topic, self.to)


@dataclass(frozen=True)
class SmtpSettings:
    """Where staff email goes out (environment: HOMEROOM_SMTP_*). The password never appears in
    a repr or a log line."""

    host: str
    port: int = 587
    security: str = "starttls"                  # "starttls" | "tls" (implicit, port 465) | "none"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class RetentionPolicy:
    """The profile's [retention] table: how long families' data is kept (days). The audit log
    is never purged by Homeroom: its triggers refuse DELETE (see `bot.privacy.retention`)."""

    messages_days: int = 180       # message text and translations, inbox and sent outbox rows
    tickets_days: int = 730         # after a ticket was resolved (open/claimed tickets are kept)
    signups_days: int = 30          # after the event ended


@dataclass(frozen=True)
class AbsencePolicy:
    """The profile's [absences] table: whether families report absences in the chat (off: the
    bot gives the attendance line, as before) and the school's rules said at the end of a report."""

    enabled: bool = True
    note_after_days: int = 3        # a doctor's note is needed after this many school days in a row (0: never)
    call_before: time | None = time(8, 30)  # same-day absences are due before this time (None: no deadline)


@dataclass(frozen=True)
class SchoolProfile:
    """What the bot knows about the school: answer placeholders, languages, office hours."""

    path: Path
    info: Mapping[str, str]
    timezone: str = "UTC"
    languages: tuple[str, ...] = ("en",)
    default_language: str = "en"
    office_hours: Mapping[int, tuple[time, time]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    menu: tuple[str, ...] = DEFAULT_MENU
    # Never machine-translated: program and product names, the school's own names.
    glossary: tuple[str, ...] = ()
    slack: SlackProfile | None = None  # None: the profile has no [slack] table
    email: EmailProfile | None = None  # None: the profile has no [email] table
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    absences: AbsencePolicy = field(default_factory=AbsencePolicy)
    # [info.es] …: the school's own wording of [info] values in a language, used in curated
    # answers in that language (else the English value stands in the translated sentence)
    info_translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # [calendar] source: the school's calendar (.ics path relative to the profile, or a URL); bot/calendar
    calendar_source: str | None = None

    @property
    def name(self) -> str:
        return self.info.get("school_name", "our school")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with where it came from documented in the README."""

    data_dir: Path
    db_path: Path
    school_profile_path: Path
    intents_dir: Path
    locales_dir: Path
    signups_dir: Path = REPO_ROOT / "sample_school" / "signups"
    log_level: str = "INFO"
    log_format: str = "kv"
    translation: str = "auto"
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_file_url: str = "https://api.telegram.org/file/bot"
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    slack_listen: str = "127.0.0.1:3000"   # HTTP mode (no SLACK_APP_TOKEN): host:port for Slack's requests
    # Telegram webhook mode (when the URL is set; long polling otherwise)
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_webhook_listen: str = "0.0.0.0:8443"
    # Operations (bot/ops): nightly backups (keep 0 = off) and the /healthz endpoint (None = off)
    backup_dir: Path | None = None          # None: <data_dir>/backups
    backup_keep: int = 7
    health_listen: str | None = None
    # Understanding (bot/understanding): "auto" = the bundled semantic model, "lexical" = without it
    understanding: str = "auto"
    embed_threads: int = 1                  # one parent's message; batches use batch_threads
    batch_threads: int = field(default_factory=lambda: os.cpu_count() or 1)  # batches: a catalog build, a burst
    cache_dir: Path | None = None           # None: <data_dir>/cache (embeddings, trained classifier)
    smtp: SmtpSettings | None = None        # staff email (bot/channels/email); None: HOMEROOM_SMTP_HOST unset

    @property
    def understanding_cache(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(name, "").strip()
            return value or default

        data_dir = Path(get("HOMEROOM_DATA_DIR", str(default_data_dir(env)))).expanduser()
        log_level = get("HOMEROOM_LOG_LEVEL", "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"HOMEROOM_LOG_LEVEL={log_level!r}: allowed are {', '.join(LOG_LEVELS)}")
        log_format = get("HOMEROOM_LOG_FORMAT", "kv").lower()
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"HOMEROOM_LOG_FORMAT={log_format!r}: allowed are {', '.join(LOG_FORMATS)}")
        translation = get("HOMEROOM_TRANSLATION", "auto").lower()
        if translation not in ("auto", "off"):
            raise ConfigError(f"HOMEROOM_TRANSLATION={translation!r}: allowed are auto, off")
        understanding = get("HOMEROOM_UNDERSTANDING", "auto").lower()
        if understanding not in ("auto", "lexical"):
            raise ConfigError(f"HOMEROOM_UNDERSTANDING={understanding!r}: allowed are auto, lexical")
        threads = {"HOMEROOM_EMBED_THREADS": get("HOMEROOM_EMBED_THREADS", "1"),
                   "HOMEROOM_BATCH_THREADS": get("HOMEROOM_BATCH_THREADS", str(os.cpu_count() or 1))}
        for name, value in threads.items():
            if not value.isdigit() or not 1 <= int(value) <= 64:
                raise ConfigError(f"{name}={value!r}: a whole number from 1 to 64")
        return cls(
            understanding=understanding,
            embed_threads=int(threads["HOMEROOM_EMBED_THREADS"]),
            batch_threads=int(threads["HOMEROOM_BATCH_THREADS"]),
            cache_dir=Path(get("HOMEROOM_CACHE_DIR")).expanduser() if get("HOMEROOM_CACHE_DIR") else None,
            data_dir=data_dir,
            translation=translation,
            db_path=Path(get("HOMEROOM_DB", str(data_dir / "homeroom.sqlite3"))).expanduser(),
            school_profile_path=Path(
                get("HOMEROOM_SCHOOL_PROFILE", str(REPO_ROOT / "sample_school" / "school.toml"))
            ).expanduser(),
            intents_dir=Path(get("HOMEROOM_INTENTS_DIR", str(REPO_ROOT / "intents"))).expanduser(),
            locales_dir=Path(get("HOMEROOM_LOCALES_DIR", str(REPO_ROOT / "locales"))).expanduser(),
            signups_dir=Path(get("HOMEROOM_SIGNUPS_DIR", str(REPO_ROOT / "sample_school" / "signups"))).expanduser(),
            log_level=log_level,
            log_format=log_format,
            telegram_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_api_base_url=get("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot"),
            telegram_api_file_url=get("TELEGRAM_API_FILE_URL", "https://api.telegram.org/file/bot"),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=_slack_api_url(get("SLACK_API_URL", "https://slack.com/api/")),
            slack_listen=_listen_address(get("SLACK_LISTEN", "127.0.0.1:3000")),
            telegram_webhook_url=_webhook_url(get("TELEGRAM_WEBHOOK_URL")),
            telegram_webhook_secret=_webhook_secret(get("TELEGRAM_WEBHOOK_SECRET")),
            # Procfile platforms tell the web process its port in $PORT
            telegram_webhook_listen=_listen_address(
                get("TELEGRAM_WEBHOOK_LISTEN", f"0.0.0.0:{get('PORT', '8443')}"), "TELEGRAM_WEBHOOK_LISTEN"),
            backup_dir=Path(get("HOMEROOM_BACKUP_DIR", str(data_dir / "backups"))).expanduser(),
            backup_keep=_backup_keep(get("HOMEROOM_BACKUP_KEEP", "7")),
            health_listen=_listen_address(get("HOMEROOM_HEALTH_LISTEN"), "HOMEROOM_HEALTH_LISTEN")
            if get("HOMEROOM_HEALTH_LISTEN") else None,
            smtp=_smtp_settings(get),
        )

    def secrets(self) -> list[str]:
        """Values that must never be printed (the log filter masks them)."""
        return [s for s in (self.telegram_token, self.slack_bot_token, self.slack_signing_secret,
                            self.slack_app_token, self.telegram_webhook_secret,
                            self.smtp.password if self.smtp else None) if s]


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The data directory when HOMEROOM_DATA_DIR is unset: the user's data folder
    ($XDG_DATA_HOME/homeroom, else ~/.local/share/homeroom). Not the current directory: a staff
    command typed in another folder must find the bot's database, not a different one."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"  # XDG: relative = unset
    return base / "homeroom"


def _smtp_settings(get) -> SmtpSettings | None:
    """HOMEROOM_SMTP_HOST/PORT/SECURITY/USER/PASSWORD; None when no host is set (email off)."""
    host = get("HOMEROOM_SMTP_HOST")
    if host is None:
        return None
    security = get("HOMEROOM_SMTP_SECURITY", "starttls").lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(f"HOMEROOM_SMTP_SECURITY={security!r}: allowed are {', '.join(SMTP_SECURITY)} "
                          "(starttls on port 587, tls on port 465, none only for a server on this machine)")
    port = get("HOMEROOM_SMTP_PORT", "465" if security == "tls" else "587")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"HOMEROOM_SMTP_PORT={port!r}: a port number, e.g. 587")
    user, password = get("HOMEROOM_SMTP_USER"), get("HOMEROOM_SMTP_PASSWORD")
    if (user is None) != (password is None):
        raise ConfigError("HOMEROOM_SMTP_USER and HOMEROOM_SMTP_PASSWORD go together: set both, or neither "
                          "(a server that accepts mail without signing in)")
    return SmtpSettings(host=host, port=int(port), security=security, user=user, password=password)


def _slack_api_url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"SLACK_API_URL={url!r}: write a URL such as https://slack.com/api/")
    return url if url.endswith("/") else url + "/"


def _listen_address(value: str, name: str = "SLACK_LISTEN") -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        raise ConfigError(f"{name}={value!r}: write it as HOST:PORT, e.g. 127.0.0.1:3000 or 0.0.0.0:3000")
    return f"{host or '0.0.0.0'}:{port}"


def _backup_keep(value: str) -> int:
    if not value.isdigit():
        raise ConfigError(f"HOMEROOM_BACKUP_KEEP={value!r}: write how many nightly backups to keep, "
                          "e.g. 7 (0: no nightly backups)")
    return int(value)


def _webhook_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("https://", "http://")):
        raise ConfigError(f"TELEGRAM_WEBHOOK_URL={url!r}: write the public HTTPS URL Telegram should call, "
                          "e.g. https://homeroom.example.org/telegram")
    return url


def _webhook_secret(secret: str | None) -> str | None:
    """Telegram allows 1-256 characters A-Z, a-z, 0-9, _ and - in a secret_token."""
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET: use 1-256 characters from A-Z, a-z, 0-9, _ and -")
    return secret


def _load_email(path: Path, raw: object) -> EmailProfile | None:
    """The [email] table (absent: None): addresses only; the server is in the environment."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [email] must be a table")
    known = {"from", "to", "urgent_to", "topics", "digest_time", "urgent_claim_minutes"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: [email] {', '.join(unknown)}: unknown key(s); allowed are {', '.join(sorted(known))}")

    def addresses(key: str, value: object) -> tuple[str, ...]:
        found = [value] if isinstance(value, str) else value
        if not isinstance(found, list) or not found or \
                not all(isinstance(a, str) and _EMAIL_RE.match(a.strip()) for a in found):
            raise ConfigError(f"{path}: [email] {key} = {value!r}: write an email address, or a list of them "
                              "(e.g. \"office@school.example.org\")")
        return tuple(a.strip() for a in found)

    for key in ("from", "to"):
        if key not in raw:
            raise ConfigError(f"{path}: [email] {key} is required (the {'sender' if key == 'from' else 'staff'} "
                              "address)")
    sender = addresses("from", raw["from"])
    if len(sender) != 1:
        raise ConfigError(f"{path}: [email] from = {raw['from']!r}: one address")
    topics = raw.get("topics", {})
    if not isinstance(topics, dict):
        raise ConfigError(f"{path}: [email] topics must be a table of topic = \"address\"")
    digest = raw.get("digest_time", "16:00")
    digest_time = None
    if digest != "off":
        match = re.match(r"^(\d{1,2}):(\d{2})$", digest) if isinstance(digest, str) else None
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ConfigError(f"{path}: [email] digest_time = {digest!r}: write a time of day as \"HH:MM\" "
                              "(24-hour clock, the school's time zone), or \"off\"")
        digest_time = time(int(match[1]), int(match[2]))
    minutes = raw.get("urgent_claim_minutes", 10)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise ConfigError(f"{path}: [email] urgent_claim_minutes = {minutes!r}: a whole number of minutes, "
                          "0 or more (0: email urgent tickets at once even with Slack)")
    return EmailProfile(sender=sender[0], to=addresses("to", raw["to"]),
                        urgent_to=addresses("urgent_to", raw["urgent_to"]) if "urgent_to" in raw else (),
                        topics={str(t): addresses(f"topics.{t}", a) for t, a in topics.items()},
                        digest_time=digest_time, urgent_claim_minutes=minutes)


def _load_slack(path: Path, raw: object) -> SlackProfile | None:
    """The [slack] table (absent: None). Channel and user ids, not names: Slack's events carry ids."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [slack] must be a table")
    known = {"default_channel", "urgent_channel", "urgent_mention", "channels", "staff", "note_prefix",
             "first_response_minutes", "auto_resume_hours", "signups_channel", "digest_time",
             "report_channel"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: [slack] {', '.join(unknown)}: unknown key(s); allowed are {', '.join(sorted(known))}")

    def channel(key: str, value: object) -> str:
        if not isinstance(value, str) or not _SLACK_CHANNEL_RE.match(value):
            raise ConfigError(f"{path}: [slack] {key} = {value!r}: write the channel's id (e.g. C0123ABCD; "
                              "in Slack: channel details, at the bottom), not its name")
        return value

    if "default_channel" not in raw:
        raise ConfigError(f"{path}: [slack] default_channel is required (the channel id where tickets go)")
    default_channel = channel("default_channel", raw["default_channel"])
    urgent_channel = channel("urgent_channel", raw["urgent_channel"]) if "urgent_channel" in raw else None
    mention = raw.get("urgent_mention")
    if mention is not None:
        if not isinstance(mention, str) or not mention.split() or \
                not all(_SLACK_MENTION_RE.match(m) for m in mention.split()):
            raise ConfigError(f"{path}: [slack] urgent_mention = {mention!r}: write Slack mentions such as "
                              "\"<!subteam^S0123ABCD>\" (a user group), \"<@U0123ABCD>\" or \"<!here>\"")
    topics = raw.get("channels", {})
    if not isinstance(topics, dict):
        raise ConfigError(f"{path}: [slack] channels must be a table of topic = \"channel id\"")
    channels = {str(topic): channel(f"channels.{topic}", cid) for topic, cid in topics.items()}
    staff = raw.get("staff", [])
    if not isinstance(staff, list) or not all(isinstance(u, str) and _SLACK_USER_RE.match(u) for u in staff):
        raise ConfigError(f"{path}: [slack] staff must be a list of Slack user ids (e.g. [\"U0123ABCD\"])")
    prefix = raw.get("note_prefix", "note:")
    if not isinstance(prefix, str) or not prefix.strip():
        raise ConfigError(f"{path}: [slack] note_prefix must be non-empty text (e.g. \"note:\")")
    numbers = {}
    for key, default in (("first_response_minutes", 30), ("auto_resume_hours", 48)):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{path}: [slack] {key} = {value!r}: write a whole number, 0 or more (0: off)")
        numbers[key] = value
    signups_channel = channel("signups_channel", raw["signups_channel"]) if "signups_channel" in raw \
        else default_channel
    digest = raw.get("digest_time", "16:00")
    match = re.match(r"^(\d{1,2}):(\d{2})$", digest) if isinstance(digest, str) else None
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f"{path}: [slack] digest_time = {digest!r}: write a time of day as \"HH:MM\" "
                          "(24-hour clock, the school's time zone), e.g. \"16:00\"")
    return SlackProfile(default_channel=default_channel, urgent_channel=urgent_channel, urgent_mention=mention,
                        channels=channels, staff=tuple(staff), note_prefix=prefix.strip(), **numbers,
                        signups_channel=signups_channel, digest_time=time(int(match[1]), int(match[2])),
                        report_channel=channel("report_channel", raw["report_channel"])
                        if "report_channel" in raw else None)


def _load_retention(path: Path, raw: object) -> RetentionPolicy:
    """The optional [retention] table: whole numbers of days, at least 1."""
    if raw is None:
        return RetentionPolicy()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [retention] must be a table")
    known = ("messages_days", "tickets_days", "signups_days")
    for key in raw:
        if key not in known:
            hint = (" (the audit log is never purged: it is append-only)" if key.startswith("audit") else "")
            raise ConfigError(f"{path}: [retention] {key}: unknown key{hint}; allowed are {', '.join(known)}")
    days = {}
    for key in known:
        value = raw.get(key, getattr(RetentionPolicy, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{path}: [retention] {key} = {value!r}: write a whole number of days, 1 or more")
        days[key] = value
    return RetentionPolicy(**days)


def _load_absences(path: Path, raw: object) -> AbsencePolicy:
    """The optional [absences] table: enabled (true/false), note_after_days (0 or more),
    call_before ("HH:MM", or "" for none)."""
    if raw is None:
        return AbsencePolicy()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [absences] must be a table")
    known = ("enabled", "note_after_days", "call_before")
    for key in raw:
        if key not in known:
            raise ConfigError(f"{path}: [absences] {key}: unknown key; allowed are {', '.join(known)}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{path}: [absences] enabled = {enabled!r}: write true or false")
    days = raw.get("note_after_days", AbsencePolicy.note_after_days)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ConfigError(f"{path}: [absences] note_after_days = {days!r}: write a whole number of days (0: no rule)")
    call = raw.get("call_before", "08:30")
    call_before = None
    if call != "":
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(call))
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ConfigError(f"{path}: [absences] call_before = {call!r}: write a time of day as \"HH:MM\" "
                              "(24-hour clock, school time), or \"\" for none")
        call_before = time(int(match[1]), int(match[2]))
    return AbsencePolicy(enabled=enabled, note_after_days=days, call_before=call_before)


def _load_info_translations(path: Path, tables: Mapping[str, Any], info: Mapping[str, Any],
                            languages: list[str]) -> dict[str, dict[str, str]]:
    """`[info.<lang>]` tables: each key must be an [info] key (a typo would silently leave the
    English value), each language one the school offers."""
    result: dict[str, dict[str, str]] = {}
    for lang, table in tables.items():
        if lang not in languages or lang == "en":
            raise ConfigError(f"{path}: [info.{lang}]: {lang!r} is not one of the school's other languages "
                              f"{[code for code in languages if code != 'en']} ([school] languages)")
        unknown = [k for k in table if k not in info]
        if unknown:
            raise ConfigError(f"{path}: [info.{lang}] {', '.join(unknown)}: not a key of [info] "
                              "(a translation needs the English value it replaces)")
        bad = [k for k, v in table.items() if not isinstance(v, (str, int, float))]
        if bad:
            raise ConfigError(f"{path}: [info.{lang}] values must be text; fix {', '.join(bad)}")
        result[lang] = {k: str(v) for k, v in table.items()}
    return result


def _load_calendar(path: Path, raw: object) -> str | None:
    """The optional [calendar] table: `source`, a file (relative to the profile) or an http(s) URL."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"source"} or not isinstance(raw.get("source"), str) \
            or not raw["source"].strip():
        raise ConfigError(f"{path}: [calendar] takes one key, source = \"calendar.ics\" (a file next to the "
                          "profile) or the https URL of the calendar the school publishes")
    return raw["source"].strip()


def load_school_profile(path: Path) -> SchoolProfile:
    """Read and validate a school profile; errors name the file and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"HOMEROOM_SCHOOL_PROFILE: {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

    school = raw.get("school", {})
    info = raw.get("info", {})
    if not isinstance(info, dict) or not info:
        raise ConfigError(f"{path}: [info] table is missing (it holds school_name, office_phone, ...)")
    localized = {k: v for k, v in info.items() if isinstance(v, dict)}  # [info.es] …
    info = {k: v for k, v in info.items() if k not in localized}
    bad = [k for k, v in info.items() if not isinstance(v, (str, int, float))]
    if bad:
        raise ConfigError(f"{path}: [info] values must be text; fix {', '.join(bad)}")
    if "school_name" not in info:
        raise ConfigError(f"{path}: [info] school_name is required")

    tz = str(school.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: [school] timezone={tz!r} is not an IANA time zone "
                          "(e.g. America/Chicago)") from None

    languages = list(school.get("languages", ["en"]))
    for code in languages:
        if not isinstance(code, str) or not _LANG_RE.match(code):
            raise ConfigError(f"{path}: [school] languages: {code!r} is not a 2-letter language code")
    if "en" not in languages:
        languages.insert(0, "en")
    default_language = str(school.get("default_language", "en"))
    if default_language not in languages:
        raise ConfigError(f"{path}: [school] default_language={default_language!r} "
                          f"is not among languages {languages}")

    hours_table = dict(raw.get("office_hours", {}))
    holidays_raw = hours_table.pop("holidays", [])
    office_hours: dict[int, tuple[time, time]] = {}
    for day, span in hours_table.items():
        if day not in WEEKDAYS:
            raise ConfigError(f"{path}: [office_hours] {day!r}: allowed keys are {', '.join(WEEKDAYS)}, holidays")
        match = _HOURS_RE.match(str(span))
        if not match:
            raise ConfigError(f"{path}: [office_hours] {day} = {span!r}: write it as HH:MM-HH:MM")
        h1, m1, h2, m2 = map(int, match.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise ConfigError(f"{path}: [office_hours] {day} = {span!r}: not a time of day") from None
        if end <= start:
            raise ConfigError(f"{path}: [office_hours] {day} = {span!r}: ends before it starts")
        office_hours[WEEKDAYS.index(day)] = (start, end)
    holidays: set[date] = set()
    for item in holidays_raw:
        try:
            holidays.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            raise ConfigError(f"{path}: [office_hours] holidays: {item!r} is not a YYYY-MM-DD date") from None

    info_translations = _load_info_translations(path, localized, info, languages)

    menu = school.get("menu", list(DEFAULT_MENU))
    if not isinstance(menu, list) or not all(isinstance(m, str) for m in menu):
        raise ConfigError(f"{path}: [school] menu must be a list of intent ids")

    glossary = raw.get("translation", {}).get("glossary", [])
    if not isinstance(glossary, list) or not all(isinstance(g, str) for g in glossary):
        raise ConfigError(f"{path}: [translation] glossary must be a list of words or names")
    names = [str(info[k]) for k in ("school_name", "school_short_name", "district_name", "portal_name",
                                    "pta_name", "principal_name") if k in info]

    return SchoolProfile(
        path=path,
        menu=tuple(menu),
        glossary=tuple(dict.fromkeys([*glossary, *names])),
        info={k: str(v) for k, v in info.items()},
        info_translations=info_translations,
        timezone=tz,
        languages=tuple(languages),
        default_language=default_language,
        office_hours=office_hours,
        holidays=frozenset(holidays),
        slack=_load_slack(path, raw.get("slack")),
        email=_load_email(path, raw.get("email")),
        retention=_load_retention(path, raw.get("retention")),
        calendar_source=_load_calendar(path, raw.get("calendar")),
        absences=_load_absences(path, raw.get("absences")),
    )
