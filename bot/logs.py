"""Every log line of every Porter process leaves personal data out and stays short.

Rasa logs whole trackers when an action fails, tokenizers log the message that broke them, libraries log
URLs with query strings. Rather than trusting each of them, ``install()`` replaces the process's log record
factory: every record, from any logger and whatever handler later formats it, has emails, phone numbers,
addresses (as Porter's own payloads name them) and secrets in query strings masked, and is cut to
``MAX_CHARS`` characters, traceback included. Each server calls it first thing (`python -m bot serve` and
every process it starts).
"""
from __future__ import annotations

import logging
import re
import traceback

MAX_CHARS = 2000   # a log line long enough for a traceback's end, short enough never to carry a tracker

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{0,63}@([A-Za-z0-9\-]{1,63}"
                    r"(?:\.[A-Za-z0-9\-]{1,63}){0,8})")
# +country numbers, and runs of 7 or more digits with the usual separators: phones, not order numbers of 4-6
_PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s\-.()]{0,2}\d){6,18}(?!\w)")
# Porter's own names for address fields, in JSON or Python reprs: "address": "Rua do Ouro 25, ..."
_ADDRESS = re.compile(r"""(["'](?:new_address|old_address|address|line1|line2|shipping_address|return_address)"""
                      r"""["']\s*:\s*)(["'])(?:\\.|(?!\2).){0,500}\2""")
_SECRET_QUERY = re.compile(r"([?&](?:token|access_token|key|api_key|secret|signature)=)[^&\s\"']{1,500}", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/\-=]{8,500}")


def scrub(text: str) -> str:
    """``text`` with personal data and secrets masked, cut to MAX_CHARS."""
    if len(text) > 4 * MAX_CHARS:   # never run the patterns over a megabyte: cut first, then mask
        text = text[:2 * MAX_CHARS] + " … " + text[-MAX_CHARS:]
    text = _SECRET_QUERY.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    text = _ADDRESS.sub(r"\1\2***\2", text)
    text = _EMAIL.sub(r"\1***@\2", text)
    text = _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)
    if len(text) > MAX_CHARS:
        cut = len(text) - MAX_CHARS
        text = text[:MAX_CHARS // 2] + f" … [{cut} characters cut] … " + text[-MAX_CHARS // 2:]
    return text


_installed = False


def install() -> None:
    """Makes every log record of this process scrubbed (idempotent)."""
    global _installed
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
