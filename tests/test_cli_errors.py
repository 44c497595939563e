"""The ``rectify`` command as an operator meets it: misconfiguration is one line and exit 2.

Every case runs the real command in a subprocess from its own empty directory;
all of them start at once, so the module costs about one start-up.
"""

import logging
import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.logs import CHATTY, configure
from app.settings import Settings
from tests.conftest import PG_URL
from tests.processes import clean_env, free_port, rectify_command, start, stop, wait_ready

BAD_WORKFLOW = "name: rectification\nversion: [1\n"


def _cases(tmp: Path) -> dict[str, tuple[list[str], dict[str, str], str]]:
    """name -> (arguments, settings, what the line must name)."""
    (tmp / "a-file").write_text("not a directory")
    (tmp / "workflows").mkdir()
    (tmp / "workflows" / "broken.yaml").write_text(BAD_WORKFLOW)
    blocked = str(tmp / "a-file" / "below")
    short_key = tmp / "short.key"
    short_key.write_text("too short")
    cases = {
        "not a URL": (["db", "upgrade"], {"RECTIFY_DATABASE_URL": "rectify.db"}, "DATABASE_URL"),
        "unreachable PostgreSQL": (
            ["db", "upgrade"],
            {"RECTIFY_DATABASE_URL": "postgresql+psycopg://rectify@127.0.0.1:1/rectify"},
            "RECTIFY_DATABASE_URL",
        ),
        "missing driver": (
            ["db", "upgrade"],
            {"RECTIFY_DATABASE_URL": "postgresql+pg8000://rectify@127.0.0.1/rectify"},
            "driver",
        ),
        "unsupported database": (
            ["serve"],
            {"RECTIFY_DATABASE_URL": "mysql://rectify@127.0.0.1/rectify"},
            "RECTIFY_DATABASE_URL",
        ),
        "unwritable data directory": (
            ["serve"],
            {"RECTIFY_DATABASE_URL": f"sqlite:///{blocked}/rectify.db"},
            "RECTIFY_DATABASE_URL",
        ),
        "not a database file": (
            ["serve"],
            {"RECTIFY_DATABASE_URL": f"sqlite:///{tmp / 'a-file'}"},
            "RECTIFY_DATABASE_URL",
        ),
        "unwritable evidence directory": (
            ["serve"],
            {"RECTIFY_EVIDENCE_DIR": blocked},
            "RECTIFY_EVIDENCE_DIR",
        ),
        "missing workflows directory": (
            ["tick"],
            {"RECTIFY_WORKFLOWS_DIR": str(tmp / "no-such-directory")},
            "directory of workflow .yaml files",
        ),
        "invalid workflow file": (
            ["serve"],
            {"RECTIFY_WORKFLOWS_DIR": str(tmp / "workflows")},
            "broken.yaml",
        ),
        "not a number": (["serve"], {"RECTIFY_MAX_UPLOAD_MB": "lots"}, "RECTIFY_MAX_UPLOAD_MB"),
        "negative interval": (
            ["worker"],
            {"RECTIFY_SCAN_INTERVAL_S": "-5"},
            "RECTIFY_SCAN_INTERVAL_S",
        ),
        "unknown time zone": (["serve"], {"RECTIFY_TIMEZONE": "Mars/Olympus"}, "RECTIFY_TIMEZONE"),
        "bad retry schedule": (
            ["worker"],
            {"RECTIFY_DELIVERY_RETRY_SCHEDULE_S": "5,soon"},
            "RECTIFY_DELIVERY_RETRY_SCHEDULE_S",
        ),
        "bad network": (
            ["serve"],
            {"RECTIFY_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/33"},
            "RECTIFY_WEBHOOK_ALLOWED_NETWORKS",
        ),
        "short lease": (["worker"], {"RECTIFY_DELIVERY_LEASE_S": "5"}, "RECTIFY_DELIVERY_LEASE_S"),
        "unknown log level": (["serve"], {"RECTIFY_LOG_LEVEL": "LOUD"}, "RECTIFY_LOG_LEVEL"),
        "unknown role": (["keys", "create", "--role", "boss", "--name", "x"], {}, "--role"),
        "unit key without unit": (
            ["keys", "create", "--role", "unit", "--name", "x"],
            {},
            "--unit",
        ),
        "unknown unit": (
            ["keys", "create", "--role", "unit", "--name", "x", "--unit", "nowhere"],
            {},
            "--unit",
        ),
        "empty name": (["keys", "create", "--role", "admin", "--name", ""], {}, "--name"),
        "missing name": (["keys", "create", "--role", "admin"], {}, "--name"),
        "unknown command": (["serv"], {}, "serv"),
        "control characters in a key's name": (
            ["keys", "create", "--role", "admin", "--name", "a\x01b"],
            {},
            "--name",
        ),
        "unwritable history key file": (
            ["serve"],
            {"RECTIFY_HISTORY_KEY": "", "RECTIFY_HISTORY_KEY_FILE": f"{blocked}/history.key"},
            "RECTIFY_HISTORY_KEY_FILE",
        ),
        "history key file is a directory": (
            ["worker"],
            {"RECTIFY_HISTORY_KEY": "", "RECTIFY_HISTORY_KEY_FILE": str(tmp / "workflows")},
            "RECTIFY_HISTORY_KEY_FILE",
        ),
        "no usable history key in its file": (
            ["serve"],
            {"RECTIFY_HISTORY_KEY": "", "RECTIFY_HISTORY_KEY_FILE": str(short_key)},
            "RECTIFY_HISTORY_KEY_FILE",
        ),
        "issuer without audience": (
            ["serve"],
            {"RECTIFY_OIDC_ISSUER": "https://sso.example.gov.cn"},
            "RECTIFY_OIDC_AUDIENCE",
        ),
        "any origin": (["serve"], {"RECTIFY_CORS_ORIGINS": "*"}, "RECTIFY_CORS_ORIGINS"),
        "an origin without its scheme": (
            ["serve"],
            {"RECTIFY_CORS_ORIGINS": "https://ok.example.gov.cn,app.example.gov.cn"},
            "app.example.gov.cn",
        ),
        "unwritable backup directory": (["db", "backup", blocked], {}, "below"),
    }
    if PG_URL:
        missing = make_url(PG_URL).set(database="rectify_no_such_database")
        cases["wrong database name"] = (
            ["serve"],
            {"RECTIFY_DATABASE_URL": missing.render_as_string(hide_password=False)},
            "rectify_no_such_database",
        )
    return cases


CLI_HISTORY_KEY = "cli-errors-history-key-0123456789abcdef"


def test_every_misconfiguration_is_one_line_and_exit_2(tmp_path):
    cases = _cases(tmp_path)
    busy = socket.create_server(("127.0.0.1", 0))  # held by "another server" meanwhile
    cases["port in use"] = (["serve", "--port", str(busy.getsockname()[1])], {}, "--port")
    cases["port out of range"] = (["serve", "--port", "99999"], {}, "1..65535")
    try:
        _run_all(cases, tmp_path)
    finally:
        busy.close()


def _run_all(cases: dict, tmp_path: Path) -> None:
    running = {}
    for index, (name, (args, settings, _named)) in enumerate(cases.items()):
        cwd = tmp_path / f"case{index}"
        cwd.mkdir()
        running[name] = subprocess.Popen(
            rectify_command() + args,
            cwd=cwd,
            # a key of its own: the first start's "created the history key" warning
            # is not what these cases are about
            env=clean_env(**{"RECTIFY_HISTORY_KEY": CLI_HISTORY_KEY, **settings}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    failures = []
    for name, proc in running.items():
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            failures.append(f"{name}: still running (did it start serving?)")
            continue
        named = cases[name][2]
        lines = err.strip().splitlines()
        if proc.returncode != 2 or len(lines) != 1 or named not in err or "Traceback" in err:
            failures.append(f"{name}: exit {proc.returncode}, stderr {err!r}, stdout {out[:200]!r}")
    assert not failures, "\n".join(failures)


def test_version(tmp_path):
    result = subprocess.run(
        rectify_command() + ["--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert re.fullmatch(r"rectify \d+\.\d+\.\d+\S*\n", result.stdout)


def test_serve_without_an_admin_key_says_how_to_create_one_and_stops_on_sigterm(tmp_path):
    """Also: no alembic or transitions lines at INFO, however often /readyz is probed."""
    port, log = free_port(), tmp_path / "serve.log"
    proc = start(["serve", "--port", str(port)], clean_env(), tmp_path, log)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        for _ in range(3):
            assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        status = stop(proc)
    text = log.read_text()
    warnings = [line for line in text.splitlines() if "no admin API key" in line]
    assert len(warnings) == 1 and "rectify keys create --role admin" in warnings[0], text
    assert status == 0, text
    assert not re.search(r"INFO (alembic|transitions)", text), text
    assert "Traceback" not in text, text


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_third_party_info_lines_are_off_unless_debugging(level):
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    try:
        configure(Settings(log_level=level))
        for name in ("transitions.core", "alembic.runtime.migration", "httpx"):
            assert logging.getLogger(name).isEnabledFor(logging.INFO) is (level == "DEBUG")
        assert logging.getLogger("rectify.demo").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.NOTSET)
