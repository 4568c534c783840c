"""Staff commands read the bot's database; they never create one.

Opening SQLite creates a missing file, so a staff command run with other settings than the
bot's (another folder, another user, no environment file) used to make a new empty database
and answer "no open tickets" while real tickets waited. Only the commands that run the bot
(`homeroom run`, `homeroom chat`) and the explicit `homeroom db migrate` / `db restore` may
create it; every other command that opens it calls `require_existing_database` first.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import ConfigError, Settings, default_data_dir

DB_NAME = "homeroom.sqlite3"
SYSTEMD_DATA_DIR = Path("/var/lib/homeroom")  # deploy/homeroom.service


class MissingDatabaseError(ConfigError):
    """The configured database does not exist: the settings point somewhere the bot never ran
    (the CLI prints the message and exits 2, as for any configuration error)."""


def require_existing_database(settings: Settings) -> None:
    """Raise MissingDatabaseError unless the configured database file exists; creates nothing."""
    path = Path(settings.db_path)
    found = _is_file(path)
    if found is None:
        raise MissingDatabaseError(f"{path.absolute()}: not readable by this user; run the command as the "
                                   "user the bot runs as (e.g. sudo -u homeroom)")
    if not found:
        raise MissingDatabaseError(missing_database_message(settings))


def missing_database_message(settings: Settings) -> str:
    """Where we looked, how to point at the bot's data, and any database found where the bot
    usually keeps it (the old `./data` default, the systemd unit's folder, the user default)."""
    looked = Path(settings.db_path).absolute()
    message = (f"no database at {looked}: the bot has not run with these settings, so nothing was "
               "opened or created. Point this command at the bot's data with HOMEROOM_DATA_DIR (its "
               "folder) or HOMEROOM_DB (the file itself), set as for the running bot")
    places = [p for p in _usual_places() if p != looked]
    existing = [str(p) for p in places if _is_file(p)]
    hidden = [str(p.parent) for p in places if _is_file(p) is None]
    if existing:
        message += "; a database exists at " + ", ".join(existing)
    if hidden:
        message += "; " + ", ".join(hidden) + " may hold it but is not readable by this user (run as the bot's user)"
    return message


def _usual_places() -> list[Path]:
    places = [default_data_dir() / DB_NAME, SYSTEMD_DATA_DIR / DB_NAME]
    try:
        places.insert(0, Path.cwd() / "data" / DB_NAME)  # the default before it stopped depending on the folder
    except OSError:  # the current directory was deleted
        pass
    return list(dict.fromkeys(p.absolute() for p in places))


def _is_file(path: Path) -> bool | None:
    """True/False, or None when we may not look (e.g. /var/lib/homeroom is the bot user's, 0700)."""
    try:
        return path.is_file()
    except PermissionError:
        return None
