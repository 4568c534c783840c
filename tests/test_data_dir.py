"""Staff commands find the bot's data from any folder, and never make a new, empty database
(issue 14, item 7: `homeroom tickets list` in another folder said "no open tickets" while real
tickets waited)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings, default_data_dir
from conftest import SHARED_CACHE

NO_DATABASE_COMMANDS = [
    ["tickets", "list"],
    ["tickets", "show", "1"],
    ["status"],
    ["outbox", "list"],
    ["signups", "export", "--csv"],
    ["signups", "list"],
    ["absences", "export", "--date", "2026-12-01"],
    ["report"],
    ["purge", "--dry-run"],
    ["family", "export", "1"],
    ["audit"],
    ["db", "info"],
    ["db", "backup", "backup.sqlite3"],
]


@pytest.fixture
def homeroom(tmp_path, monkeypatch):
    """`homeroom ARGS…` in this process, with only this test's settings in the environment."""
    for name in list(os.environ):
        if name.startswith(("HOMEROOM_", "TELEGRAM_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOMEROOM_CACHE_DIR", str(SHARED_CACHE))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # main() configures the root logger
    yield main
    root.handlers[:], root.level = handlers, level


def test_the_default_data_dir_is_the_same_from_any_folder_and_not_under_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    seen = []
    for folder in (tmp_path / "a", tmp_path / "b" / "deeper"):
        folder.mkdir(parents=True)
        monkeypatch.chdir(folder)
        settings = Settings.from_env({})
        assert not settings.data_dir.is_relative_to(folder) and settings.data_dir.is_absolute()
        seen.append((settings.data_dir, settings.db_path))
    assert seen[0] == seen[1] == (tmp_path / "home" / ".local" / "share" / "homeroom",
                                  tmp_path / "home" / ".local" / "share" / "homeroom" / "homeroom.sqlite3")
    xdg = tmp_path / "xdg"
    assert Settings.from_env({"XDG_DATA_HOME": str(xdg)}).data_dir == xdg / "homeroom" == default_data_dir(
        {"XDG_DATA_HOME": str(xdg)})
    # the XDG spec: a relative XDG_DATA_HOME is invalid and ignored (it would depend on the folder again)
    assert Settings.from_env({"XDG_DATA_HOME": "data"}).data_dir == tmp_path / "home" / ".local" / "share" / "homeroom"
    assert Settings.from_env({"HOMEROOM_DATA_DIR": str(tmp_path / "mine")}).db_path == \
        tmp_path / "mine" / "homeroom.sqlite3"


@pytest.mark.parametrize("argv", NO_DATABASE_COMMANDS, ids=" ".join)
def test_a_staff_command_without_a_database_says_where_it_looked_and_creates_nothing(
        homeroom, argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "elsewhere"
    monkeypatch.setenv("HOMEROOM_DATA_DIR", str(data))
    code = homeroom(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert f"no database at {data / 'homeroom.sqlite3'}" in err
    assert "HOMEROOM_DATA_DIR" in err and "HOMEROOM_DB" in err and "Traceback" not in err
    assert not data.exists()  # neither the file nor its folder
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "data").exists()


def test_status_json_without_a_database_is_red_and_names_the_path(homeroom, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOMEROOM_DB", str(tmp_path / "nope" / "bot.sqlite3"))
    assert homeroom(["status", "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "red" and body["database"] == {"path": str(tmp_path / "nope" / "bot.sqlite3"),
                                                            "schema_version": None}
    assert str(tmp_path / "nope" / "bot.sqlite3") in body["reasons"][0]
    assert not (tmp_path / "nope").exists()


def test_the_message_points_at_a_database_left_in_the_old_place(homeroom, tmp_path, monkeypatch, capsys):
    """Before, the default was ./data of the current folder: a school that ran the bot that way
    is told where its database is, instead of being shown an empty one."""
    old = tmp_path / "checkout" / "data" / "homeroom.sqlite3"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"")
    monkeypatch.chdir(tmp_path / "checkout")
    assert homeroom(["tickets", "list"]) != 0
    err = capsys.readouterr().err
    assert f"no database at {tmp_path / 'xdg' / 'homeroom' / 'homeroom.sqlite3'}" in err
    assert f"a database exists at {old}" in err
    assert not (tmp_path / "xdg").exists()


def test_once_the_bot_made_the_database_staff_commands_read_it_from_any_folder(
        homeroom, tmp_path, monkeypatch, capsys):
    """`db migrate` stands in for the first `homeroom run` (both create the database)."""
    monkeypatch.chdir(tmp_path)
    assert homeroom(["db", "migrate"]) == 0
    db_path = tmp_path / "xdg" / "homeroom" / "homeroom.sqlite3"
    assert db_path.is_file()
    elsewhere = tmp_path / "some" / "other" / "folder"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert homeroom(["tickets", "list"]) == 0
    assert "no open tickets" in capsys.readouterr().out
    assert not (elsewhere / "data").exists()

    homeroom(["status"])
    out = capsys.readouterr().out
    assert f"database:     {db_path} (schema " in out
    homeroom(["status", "--json"])
    assert json.loads(capsys.readouterr().out)["database"]["path"] == str(db_path)


def test_a_relative_data_dir_is_shown_as_the_full_path_it_means(homeroom, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOMEROOM_DATA_DIR", "data")
    assert homeroom(["outbox", "list"]) != 0
    assert f"no database at {Path.cwd() / 'data' / 'homeroom.sqlite3'}" in capsys.readouterr().err
