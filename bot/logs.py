"""Every log line of every Porter process leaves personal data out, stays short and reads the same.

Rasa logs whole trackers and the shopper's text when something fails, tokenizers log the message that broke
them, libraries log URLs with query strings. Rather than trusting each of them, ``install()`` replaces the
process's log record factory: every record, from any logger and whatever handler later formats it, has
emails, phone numbers, addresses and message text (as Porter's and Rasa's payloads name them) and secrets
(query strings, bearer tokens, the values of ``*_TOKEN``, ``*_SECRET``, ``*_KEY`` and ``*_PASSWORD``
variables) masked, control characters and unpaired surrogates made harmless, and is cut to ``MAX_CHARS``
characters, traceback included. Every process calls it first thing (``python -m bot`` does, for the
operator commands, ``serve`` and every server it starts); it also logs to stderr in Rasa's own format, so
the lines of all of Porter's processes read alike.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from typing import FrozenSet

MAX_CHARS = 2000  # a log line long enough for a traceback's end, short enough never to carry a tracker
FORMAT = "%(asctime)s %(levelname)-8s %(name)s  - %(message)s"  # Rasa's (coloredlogs) format
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

_EMAIL = re.compile(r"(?<![\w.%+\-])([\w.%+\-])[\w.%+\-]{0,63}(?:@|%40)([\w\-]{1,63}(?:\.[\w\-]{1,63}){0,8})")
# +country numbers, and runs of 7 or more digits with the usual separators: phones, not order numbers of
# 4-6 digits; neither ISO dates, IPv4 addresses nor decimal numbers (0.9999998965), which operators need.
_PHONE = re.compile(
    r"(?<![\w+.])(?!\d{4}-\d\d-\d\d)(?!\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d))"
    r"(?!\d+\.\d+(?![\d.\-/()]|\s\d))\+?\d(?:[\s\-.()/]{0,2}\d){6,18}(?!\w)"
)
# Quoted values of fields that hold an address or what someone wrote, in JSON, Python reprs or structlog's
# key=value: Porter's and Shopify's address fields, and the text fields of Rasa's log events.
_FIELD_NAMES = (
    "new_address",
    "old_address",
    "address",
    "shipping_address",
    "billing_address",
    "return_address",
    "line1",
    "line2",
    "address1",
    "address2",
    "street",
    "postal_code",
    "zip",
    "text",
    "user_text",
    "response_text",
    "parse_data_text",
    "token_text",
    "user_message",
    "message",
)
_FIELD = re.compile(
    r"""((?<!\w)\\?["']?(?:%s)\\?["']?\s*[:=]\s*\\?)(["'])(?:\\.|(?!\2)[^\\\n])*(?:\2|(?=\n)|\Z)"""
    % "|".join(_FIELD_NAMES)
)
_SECRET_QUERY = re.compile(r"([?&](?:token|access_token|key|api_key|secret|signature)=)[^&\s\"']{1,500}", re.I)
_AUTHORIZATION = re.compile(r"((?:Bearer|Basic)\s+)[A-Za-z0-9._~+/\-=]{8,500}")
_SECRET_VARIABLE = re.compile(r"(TOKEN|SECRET|_KEY|PASSWORD)$")
# C0 and C1 controls but tab and newline: a carriage return or an escape sequence must not rewrite a terminal;
# colours (Rasa paints its warnings) are dropped, anything else is shown escaped.
_COLOUR = re.compile("\x1b\\[[0-9;]{0,20}m")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # unpaired: a UTF-8 handler cannot write them
_WORD_END = re.compile(r"[^\s\"',;<>()\[\]{}]+\Z")
_WORD_START = re.compile(r"\A[^\s\"',;<>()\[\]{}]+")

_secrets: FrozenSet[str] = frozenset()


def _environment_secrets() -> FrozenSet[str]:
    return frozenset(
        value for name, value in os.environ.items() if _SECRET_VARIABLE.search(name.upper()) and len(value) >= 8
    )


def _precut(text: str) -> str:
    """A huge text's head and tail, without the words the cut split: half an email would not be masked."""
    head, tail = text[: 2 * MAX_CHARS], text[-MAX_CHARS:]
    head = head[:-100] + _WORD_END.sub("", head[-100:])
    tail = _WORD_START.sub("", tail[:100]) + tail[100:]
    return f"{head} … {tail}"


def scrub(text: str) -> str:
    """``text`` with personal data and secrets masked, cut to MAX_CHARS."""
    if len(text) > 4 * MAX_CHARS:  # never run the patterns over a megabyte: cut first, then mask
        text = _precut(text)
    text = _SURROGATE.sub("\ufffd", text)
    text = _COLOUR.sub("", text)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)
    for secret in _secrets:
        text = text.replace(secret, "***")
    text = _SECRET_QUERY.sub(r"\1***", text)
    text = _AUTHORIZATION.sub(r"\1***", text)
    text = _FIELD.sub(r"\1\2***\2", text)
    text = _EMAIL.sub(r"\1***@\2", text)
    text = _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)
    if len(text) > MAX_CHARS:
        keep = MAX_CHARS // 2 - 20  # room for the marker
        text = f"{text[:keep]} … [{len(text) - 2 * keep} characters cut] … {text[-keep:]}"
    return text


def _level() -> int:
    """LOG_LEVEL (the variable Rasa reads too), INFO by default."""
    level = logging.getLevelName((os.environ.get("LOG_LEVEL") or "INFO").strip().upper())
    return level if isinstance(level, int) else logging.INFO


def _log_uncaught(kind, value, trace) -> None:
    """An exception nobody caught goes through the scrubbed log too, not straight to stderr."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, trace)
        return
    logging.getLogger("porter").critical("uncaught %s", kind.__name__, exc_info=(kind, value, trace))


_installed = False


def install() -> None:
    """Makes every log record of this process scrubbed, and logs to stderr unless something else already
    does. Idempotent; a later call also masks the secret variables set since."""
    global _installed, _secrets
    _secrets = _environment_secrets()
    if _installed:
        return
    _installed = True
    original = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = original(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record whose arguments do not format is logged as its template
            message = str(record.msg)
        record.msg, record.args = scrub(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
        root.addHandler(handler)
        root.setLevel(_level())
    logging.captureWarnings(True)  # a library's warning can quote what it was given, too
    # Alembic announces each of its plugins at INFO when it is imported, in every process that opens the database;
    # bot/storage/migrate.py reports what an upgrade changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
