"""What an operator reading Porter's logs sees: no shopper's email, phone, address or message, no secret,
no line longer than a screenful, whatever a library logs and however hostile the message was.

The scrubbing replaces a process's log record factory, so each logging case runs in a process of its own
(as every Porter server does) with real handlers writing a real file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.logs import MAX_CHARS, scrub
from bot.paths import PROJECT_ROOT

pytestmark = pytest.mark.timeout(120)

EMAIL = "chen.jie@example.hk"
PHONE = "+852 9123 4567"
ADDRESS = "Flat 12B, 88 Nathan Road, Tsim Sha Tsui, Kowloon"
LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S+  - ")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _log_in_a_process(tmp_path: Path, body: str, env: dict = None) -> tuple:
    """Runs ``body`` in a fresh Python with bot.logs installed and a UTF-8 file handler on the root
    logger; returns (the file's lines, stderr)."""
    log_file = tmp_path / "porter.log"
    script = textwrap.dedent("""
        import logging
        from bot import logs
        logs.install()
        handler = logging.FileHandler({path!r}, encoding="utf-8")
        handler.setFormatter(logging.Formatter(logs.FORMAT, logs.DATE_FORMAT))
        logging.getLogger().addHandler(handler)
        log = logging.getLogger("porter.test")
    """).format(path=str(log_file)) + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        env=dict(os.environ, **(env or {})),
        timeout=60,
    )
    lines = log_file.read_text(encoding="utf-8").splitlines() if log_file.exists() else []
    return lines, done.stderr


def test_emails_phones_and_addresses_are_masked():
    line = scrub(
        f"order A10030 for {EMAIL}, call {PHONE} or (852) 9123-4567, 13812345678, 0171/1234567, "
        f"'new_address': '{ADDRESS}', \"line1\": \"88 Nathan Road\", müller.straße@example.de"
    )
    assert EMAIL not in line and "müller" not in line and "c***@example.hk" in line
    assert "9123" not in line and "13812345678" not in line and "1234567" not in line
    assert "Nathan" not in line
    assert "A10030" in line, "an order number is what an operator searches the logs for"


def test_what_operators_need_is_kept():
    line = "client 192.168.100.200 at 2026-11-01T00:00:00Z, case PC-ACA8LG, refund 620.00 USD, LX123456789CN"
    assert scrub(line) == line


def test_message_text_rasa_logs_is_masked_in_json_and_key_value_forms():
    json_line = '{"text": "my address is 88 Nathan Road", "event": "rest.message.received.failure"}'
    assert "Nathan" not in scrub(json_line) and "rest.message.received.failure" in scrub(json_line)
    assert "Nathan" not in scrub("rest.message.received.failure text='my address is 88 Nathan Road'")


def test_secrets_in_urls_and_headers_are_masked():
    line = scrub("GET /webhook?token=s3cr3t-value&x=1 Authorization: Bearer abcdefghijklmnopqrstuvwxyz")
    assert "s3cr3t-value" not in line and "abcdefghijklmnop" not in line


def test_a_megabyte_is_cut_quickly_and_no_email_survives_the_cut():
    text = ("x" * 999 + f" {EMAIL} ") * 1000
    line = scrub(text)
    assert len(line) <= MAX_CHARS
    assert "chen.jie" not in line and "characters cut" in line


def test_every_record_is_scrubbed_and_cut_traceback_included(tmp_path):
    lines, stderr = _log_in_a_process(
        tmp_path,
        f"""
        log.info("verified order A10030 for %s, phone %s", {EMAIL!r}, {PHONE!r})
        try:
            raise ValueError("tracker: " + {EMAIL!r} + " " + "y" * 1_000_000)
        except ValueError:
            log.exception("action failed")
        log.warning("huge %s", "{EMAIL} " * 200_000)
    """,
    )
    text = "\n".join(lines)
    assert stderr.count("c***@example.hk") >= 1, "the process's own stderr handler logs too"
    assert "verified order A10030" in text and "ValueError" in text
    assert EMAIL not in text and EMAIL not in stderr
    assert _digits(PHONE) not in _digits(text)
    assert max(len(line) for line in lines) <= 2100
    assert LINE_START.match(lines[0]), lines[0]


def test_unpaired_surrogates_and_control_characters_cannot_break_or_forge_a_line(tmp_path):
    lines, stderr = _log_in_a_process(
        tmp_path,
        r"""
        log.error("message %r from a shopper", "hi \ud800 there \x1b[2J\rFAKE")
        log.info("still logging")
    """,
    )
    assert "Logging error" not in stderr, stderr
    assert len(lines) == 2 and "still logging" in lines[1]
    assert "\x1b" not in lines[0] and "\r" not in lines[0] and "\\x1b" in lines[0]


def test_secret_variables_never_reach_a_log(tmp_path):
    token = "shpat_0123456789abcdef0123"
    lines, stderr = _log_in_a_process(
        tmp_path,
        f"""
        log.error("Shopify refused https://shop.example/admin/{token}/orders.json")
    """,
        env={"SHOPIFY_ACCESS_TOKEN": token},
    )
    assert lines and token not in "\n".join(lines) and token not in stderr


def test_an_uncaught_exception_is_logged_scrubbed(tmp_path):
    lines, stderr = _log_in_a_process(
        tmp_path,
        f"""
        raise RuntimeError("could not reach " + {EMAIL!r})
    """,
    )
    assert "RuntimeError" in stderr and "c***@example.hk" in stderr
    assert EMAIL not in stderr and EMAIL not in "\n".join(lines)


def test_a_library_warning_goes_through_the_scrubbed_log(tmp_path):
    lines, stderr = _log_in_a_process(
        tmp_path,
        f"""
        import warnings
        warnings.warn("\\x1b[93mslot set to " + {EMAIL!r} + "\\x1b[0m", UserWarning)
    """,
    )
    assert any("UserWarning: slot set to c***@example.hk" in line for line in lines), lines
    assert EMAIL not in stderr and "\x1b" not in stderr


def test_rasas_debug_events_say_what_happened_not_what_was_written(tmp_path):
    lines, stderr = _log_in_a_process(
        tmp_path,
        f"""
        import structlog
        from bot import rasa_server
        from rasa.shared.core.events import BotUttered, SlotSet
        from rasa.utils.log_utils import configure_structlog
        rasa_server.prepare_logging()   # what `python -m bot rasa` does before Rasa configures its logging
        configure_structlog(logging.DEBUG)
        structlog.get_logger().debug(
            "processor.actions.log", action_name="address_form", text="it is " + {ADDRESS!r},
            rasa_events=[SlotSet("new_address", {ADDRESS!r}), BotUttered("Let me read it back: " + {ADDRESS!r})],
            parse_data_intent={{"name": "inform", "confidence": 0.9999998965}},
            slot_values="\\temail: " + {EMAIL!r} + "\\n\\tnew_address: " + {ADDRESS!r})
    """,
        env={"LOG_LEVEL": "DEBUG"},
    )
    logged = "\n".join(lines)
    assert "processor.actions.log" in logged, stderr
    assert "Nathan" not in logged and "chen.jie" not in logged
    assert (
        '"SlotSet(new_address)", "BotUttered"' in logged and '"name": "inform", "confidence": 0.9999998965' in logged
    ), "what Rasa predicted and did stays readable"
