"""deploy/: the systemd unit and the settings file a district's IT person copies. They must
stay true to the code: every setting the bot reads is in the example file and the README, and
the unit's exit-code handling matches the CLI's."""

from __future__ import annotations

import re
from collections import defaultdict

from bot import cli
from bot.config import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"


def settings_read_by_the_bot() -> set[str]:
    return set(re.findall(r'get\("([A-Z_]+)"', (REPO_ROOT / "bot" / "config.py").read_text(encoding="utf-8")))


def test_every_setting_is_in_the_example_file_and_the_readme():
    names = settings_read_by_the_bot()
    assert {"TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "HOMEROOM_DATA_DIR"} <= names  # the pattern still finds them
    example = (DEPLOY / "homeroom.env.example").read_text(encoding="utf-8")
    in_example = set(re.findall(r"^#? ?([A-Z_]+)=", example, re.M))
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    settings_table = readme[readme.index("| Variable | Default | What it is |"):readme.index("The **school profile**")]
    assert names - in_example == set() and names - set(re.findall(r"`([A-Z_]+)`", settings_table)) == set()
    assert in_example - names <= {"HTTPS_PROXY", "NO_PROXY"}  # nothing the bot would ignore


def unit_file(path) -> dict[str, dict[str, list[str]]]:
    """systemd's format: sections of Key=Value lines, a key may repeat (Environment=)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            sections[section][key.strip()].append(value.strip())
    return sections


def test_the_unit_runs_the_bot_and_does_not_restart_on_a_configuration_error():
    service = {key: values[-1] for key, values in unit_file(DEPLOY / "homeroom.service")["Service"].items()}
    environment = unit_file(DEPLOY / "homeroom.service")["Service"]["Environment"]
    assert service["ExecStart"].endswith("-m bot run")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # bot/service.py reloads on SIGHUP
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == str(cli.EXIT_USAGE)  # configuration errors exit with it
    assert "HOMEROOM_DATA_DIR=/var/lib/homeroom" in environment
    assert "/var/lib/homeroom" in service["ReadWritePaths"] and service["StateDirectory"] == "homeroom"
    assert service["EnvironmentFile"].endswith("homeroom.env")
