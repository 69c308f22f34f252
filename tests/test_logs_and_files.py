"""Personal data stays out of logs, files stay private, tokens stay out of process lists: one running Porter
(`python -m bot serve`), a shopper who changes an address over the REST channel, a hostile message, an action
that fails, and then what an operator or another user of the machine could read. Porter logs at DEBUG here,
where Rasa writes down every message, slot and event: even then nothing personal may reach the log.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
import requests

from bot.paths import PROJECT_ROOT
from tests.support.porter_server import TOKEN, start_porter

pytestmark = pytest.mark.timeout(600)

EMAIL = "chen.jie@example.hk"
PHONE = "+852 9123 4567"
ADDRESS = "Chen Jie, Flat 12B, 88 Nathan Road, Tsim Sha Tsui, Kowloon, Hong Kong"


@pytest.fixture(scope="module")
def porter(tmp_path_factory):
    running = start_porter(tmp_path_factory.mktemp("var"), extra_env={"LOG_LEVEL": "DEBUG"})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def conversation(porter) -> Dict[str, List[list]]:
    """Everything the shoppers were answered, once the conversations are over."""
    answers: Dict[str, List[list]] = {"address": [], "hostile": [], "failure": []}
    for text in ("I need to change my shipping address", "A10030", EMAIL, f"{ADDRESS}, phone {PHONE}"):
        answers["address"].append(_say(porter, "logs-address", text))
    answers["hostile"].append(_say(porter, "logs-hostile", "hello \ud800 my parcel \x00\x1b[31m\r\nERROR forged"))
    # A conversation whose slot holds nonsense (the HTTP API appends any event): the action that reads it fails.
    first = _say(porter, "logs-failure", "where is my order")
    conversation_id = first[0]["recipient_id"] if first else "rest:logs-failure"
    api = f"{porter.base}/conversations/{conversation_id}"
    requests.post(
        f"{api}/tracker/events",
        params={"token": TOKEN},
        timeout=60,
        json=[{"event": "slot", "name": "verification_failures", "value": {"email": EMAIL, "phone": PHONE}}],
    ).raise_for_status()
    executed = requests.post(
        f"{api}/execute",
        params={"token": TOKEN, "include_events": "NONE"},
        timeout=120,
        json={"name": "action_ask_email"},
    )
    executed.raise_for_status()
    answers["failure"].append(executed.json()["messages"])
    return answers


def _say(porter, sender: str, text: str) -> list:
    # json.dumps keeps the unpaired surrogate as the escape "\ud800", as a client's JSON would carry it
    response = requests.post(
        f"{porter.base}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}),
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    response.raise_for_status()
    return response.json()


def _family(pid: int) -> List[int]:
    """``pid`` and every process under it."""
    children: Dict[int, List[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(status.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        children.setdefault(parent, []).append(int(status.parent.name))
    family, todo = [], [pid]
    while todo:
        family.append(todo.pop())
        todo += children.get(family[-1], [])
    return family


def _secret(porter, variable: str, file_name: str) -> str:
    var = Path(porter.env["PORTER_VAR_DIR"])
    return porter.env.get(variable) or (var / file_name).read_text().strip()


def test_every_shopper_got_an_answer(conversation):
    address, hostile, failure = conversation["address"], conversation["hostile"], conversation["failure"]
    assert all(address) and all(hostile) and all(failure)
    assert any("Nathan Road" in reply.get("text", "") for reply in address[-1]), "the address is read back"
    assert any(reply.get("text") for reply in failure[0]), "the failed action is apologised for"


def test_the_log_has_no_email_phone_or_address_and_no_long_line(porter, conversation):
    log = porter.log.read_text(encoding="utf-8", errors="replace")
    assert "action action_ask_email failed: TypeError" in log and "processor.actions.log" in log, (
        "the failure and Rasa's debug lines are in the log"
    )
    assert EMAIL not in log and "chen.jie@" not in log
    digits = re.sub(r"[^\d\n]", "", log)
    assert "85291234567" not in digits and "91234567" not in digits
    assert "Nathan Road" not in log and "Flat 12B" not in log
    assert not re.search(r"^(\[\w+\] )?ERROR forged", log, re.M), "the shopper forged a log line"
    assert max(len(line) for line in log.splitlines()) <= 2100
    for secret in (TOKEN, _secret(porter, "PORTER_ACTION_TOKEN", "action_token")):
        assert secret not in log


def test_no_process_shows_a_secret_in_its_command_line(porter, conversation):
    secrets = [
        TOKEN,
        _secret(porter, "PORTER_ACTION_TOKEN", "action_token"),
        _secret(porter, "PORTER_IDENTITY_SECRET", "identity_secret"),
    ]
    command_lines = []
    for pid in _family(porter.process.pid):
        try:
            command_lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    assert any("--enable-api" in line for line in command_lines), f"Rasa's server is not among {command_lines}"
    assert len(command_lines) >= 4, "serve, the action server, Rasa and the web server"
    for line in command_lines:
        assert not [secret for secret in secrets if secret in line], line


def test_var_and_everything_in_it_are_the_owners_alone(porter, conversation):
    var = Path(porter.env["PORTER_VAR_DIR"])
    paths = [var, *var.rglob("*")]
    assert {"serve.log", "shop.db", "tracker.db", "action_token"} <= {p.name for p in paths}
    opened = [f"{p} {stat.filemode(p.lstat().st_mode)}" for p in paths if p.lstat().st_mode & 0o077]
    assert not opened


@pytest.mark.parametrize(
    "arguments, environment",
    [
        (["--enable-api", "--auth-token", "typed-token"], {"RASA_AUTH_TOKEN": "from-the-environment"}),
        (["--enable-api", "-t", "typed-token"], {"RASA_AUTH_TOKEN": "from-the-environment"}),
        (["--enable-api"], {"RASA_AUTH_TOKEN": ""}),
    ],
)
@pytest.mark.slow
def test_rasa_starts_only_with_the_token_from_the_environment(arguments, environment):
    done = subprocess.run(
        [sys.executable, "-m", "bot", "rasa", *arguments],
        cwd=PROJECT_ROOT,
        timeout=60,
        env=dict(os.environ, **environment),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "RASA_AUTH_TOKEN" in done.stderr
