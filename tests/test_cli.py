"""The command line: classify, catalog, db, version, and clear errors with exit code 2."""

from __future__ import annotations

import json
import subprocess

from conftest import PYTHON, ROOT, cli_env


def run(tmp_path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=cli_env(tmp_path, **env), timeout=120)


def test_version(tmp_path):
    proc = run(tmp_path, "version")
    assert proc.returncode == 0 and proc.stdout.startswith("homeroom ")


def test_classify_json_lines(tmp_path):
    lines = [{"text": "my daughter is sick today", "lang": "en"},
             {"text": "a que hora salen los niños", "lang": "es"},
             {"text": "recommend a movie for tonight"},
             {"text": ""}]
    proc = run(tmp_path, "classify", "--json", stdin="\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(l) for l in proc.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["intent"] == "report_absence" and out[0]["decision"] == "answer"
    assert out[1]["intent"] == "school_hours"
    assert out[2]["intent"] is None and out[2]["decision"] == "unknown"
    assert out[3] == {"intent": None, "confidence": 0.0, "candidates": [], "lang": None, "decision": "unknown"}
    assert "error" in out[4]
    for item in out[:4]:
        assert set(item) == {"intent", "confidence", "candidates", "lang", "decision"}
        assert 0.0 <= item["confidence"] <= 1.0


def test_bad_setting_is_named_with_exit_2(tmp_path):
    proc = run(tmp_path, "chat", HOMEROOM_LOG_LEVEL="LOUD")
    assert proc.returncode == 2
    assert "HOMEROOM_LOG_LEVEL" in proc.stderr and "DEBUG" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_school_profile_exit_2(tmp_path):
    proc = run(tmp_path, "chat", HOMEROOM_SCHOOL_PROFILE=str(tmp_path / "nope.toml"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_usage_error_exit_2(tmp_path):
    proc = run(tmp_path, "catalog", "frobnicate")
    assert proc.returncode == 2


def test_db_migrate_and_info(tmp_path):
    assert run(tmp_path, "db", "migrate").returncode == 0
    proc = run(tmp_path, "db", "info")
    assert proc.returncode == 0 and "schema version" in proc.stdout and "families: 0" in proc.stdout


def test_bot_refuses_to_start_on_a_broken_catalog(tmp_path):
    bad = tmp_path / "intents"
    bad.mkdir()
    (bad / "x.yaml").write_text("intents:\n  - id: foo\n    title: Foo\n    examples: {en: [a b]}\n")
    proc = run(tmp_path, "chat", HOMEROOM_INTENTS_DIR=str(bad))
    assert proc.returncode == 2
    assert "x.yaml:2:" in proc.stderr and "missing English 'answer'" in proc.stderr


def test_languages_install_file_then_list(tmp_path):
    import sys
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes.argos_model import build_tiny_argosmodel

    model = build_tiny_argosmodel(tmp_path / "build", "en", "vi")
    proc = run(tmp_path, "languages", "install-file", str(model))
    assert proc.returncode == 0, proc.stderr
    assert "installed en -> vi" in proc.stdout
    listing = run(tmp_path, "languages", "list")
    assert listing.returncode == 0
    assert "en->vi" in listing.stdout
    spanish = next(line for line in listing.stdout.splitlines() if line.startswith("es "))
    assert "Spanish" in spanish and spanish.split()[-1].startswith("37/")  # the school's own wording ([info.es])


def test_languages_install_file_rejects_a_bad_file(tmp_path):
    bad = tmp_path / "x.argosmodel"
    bad.write_bytes(b"not a zip")
    proc = run(tmp_path, "languages", "install-file", str(bad))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and proc.stderr.strip()


def test_locales_check_passes_on_the_shipped_catalogs(tmp_path):
    proc = run(tmp_path, "locales", "check")
    assert proc.returncode == 0, proc.stdout
    assert "es: " in proc.stdout and "Traceback" not in proc.stderr
