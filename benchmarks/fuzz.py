"""`make fuzz`: thousands of hostile messages through a running Porter's REST channel and widget socket, and
what came back.

Starts Porter as `make run` does (its own var/ folder, free ports; rate limits raised so that the fuzzer is not
simply turned away), then sends generated messages from many conversations at once: random Unicode from every
plane, lone surrogates and control characters, megabyte messages, payloads from other attacks (SQL, HTML,
templates, paths) and Rasa command payloads that try to set slots (`/inform{"verified_order":"A10032"}`).
It prints how many answers were server errors, how many connections dropped, how many replies were not in one
of Porter's languages (every reply must be one of the domain's responses or a channel notice, placeholders
filled), and the slowest reply. All three counts must be 0. A benchmark, not a test: it takes minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain_files import domain_dict  # noqa: E402
from bot.channels import notices  # noqa: E402
from tests.support.porter_server import start_porter  # noqa: E402
from tests.support.widget_client import WidgetClient  # noqa: E402

COMMANDS = [
    '/inform{"verified_order":"A10032"}',
    '/inform{"fix":"refund"}',
    '/inform{"email":"x@y.z"}',
    "/restart",
    "/session_start",
    "/human_handoff",
    '/greet{"language":"xx"}',
    '/inform{"fix":"reship"}',
    '/inform{"order_number":"A10024","verified_order":"A10024"}',
    "/nlu_fallback",
    "/out_of_scope{}",
    '/inform{"new_address":"x","address_confirmed":true}',
    "/affirm",
    "/action_carry_out_fix",
]
PAYLOADS = [
    "' OR 1=1; DROP TABLE cases; --",
    "<script>alert(document.cookie)</script>",
    "{{7*7}} ${7*7} %s%s%n",
    "../../../../etc/passwd",
    "{case_reference}{amount}",
    "\u202eevil\u202c",
    "A10024\u0000james",
    "ＡＢＣ１００２４",
    "\ufeff\u200b\u200d",
    "🧨" * 300,
    "null",
    "[]",
    "{}",
    "\\ud800",
    "%00%0a%0d",
]
WORDS = [
    "where",
    "is",
    "my",
    "parcel",
    "A10024",
    "refund",
    "hola",
    "包裹",
    "посылка",
    "bonjour",
    "Paket",
    "pedido",
    "james.miller@example.com",
    "+351912345678",
    "LX123456789CN",
    "yes",
    "no",
    "human",
]


def random_unicode(rng: random.Random, length: int) -> str:
    chars = []
    for _ in range(length):
        plane = rng.random()
        if plane < 0.5:
            code = rng.randint(0x20, 0x2FFF)
        elif plane < 0.7:
            code = rng.randint(0x3000, 0xFFFF)
        elif plane < 0.8:
            code = rng.randint(0x10000, 0x10FFFF)
        elif plane < 0.9:
            code = rng.randint(0, 0x1F)
        else:
            code = rng.randint(0xD800, 0xDFFF)  # a lone surrogate, as JSON can carry it
        chars.append(chr(code))
    return "".join(chars)


def hostile(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.25:
        return random_unicode(rng, rng.randint(1, 200))
    if kind < 0.40:
        return rng.choice(COMMANDS)
    if kind < 0.55:
        return rng.choice(PAYLOADS)
    if kind < 0.70:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
    if kind < 0.80:
        return "".join(chr(rng.randint(0, 0x9F)) for _ in range(rng.randint(1, 60)))
    if kind < 0.97:
        return rng.choice(WORDS) + random_unicode(rng, rng.randint(100, 3900))
    return rng.choice(["a", "palabra ", "1 ", "x@", "包"]) * rng.randint(5_000, 1_000_000 // 8)


def reply_patterns() -> List[re.Pattern]:
    """Every text Porter may answer with: the domain's responses (placeholders as wildcards) and the notices
    channels give themselves, in every language."""
    domain = domain_dict()
    texts = [
        variation["text"]
        for variations in domain["responses"].values()
        for variation in variations
        if variation.get("text")
    ]
    texts += [text for notice in (notices.TOO_LONG, notices.SLOW_DOWN) for text in notices.every_language(notice)]
    patterns = []
    for text in texts:
        parts = re.split(r"\{[a-z_]+\}", text)
        patterns.append(re.compile(".*?".join(re.escape(part) for part in parts), re.DOTALL))
    return patterns


@dataclass
class Tally:
    sent: int = 0
    server_errors: int = 0
    dropped: int = 0
    foreign: List[str] = field(default_factory=list)
    latencies: List[float] = field(default_factory=list)
    replies: int = 0

    def add(self, other: "Tally") -> None:
        self.sent += other.sent
        self.server_errors += other.server_errors
        self.dropped += other.dropped
        self.foreign += other.foreign
        self.latencies += other.latencies
        self.replies += other.replies


def check_replies(tally: Tally, texts: List[str], patterns: List[re.Pattern]) -> None:
    for text in texts:
        tally.replies += 1
        if not any(p.fullmatch(text) for p in patterns):
            tally.foreign.append(text[:200])


def rest_conversation(base: str, number: int, messages: List[str], patterns) -> Tally:
    tally, session = Tally(), requests.Session()
    for text in messages:
        started = time.monotonic()
        try:
            answer = session.post(
                f"{base}/webhooks/rest/webhook", json={"sender": f"fuzz-{number}", "message": text}, timeout=120
            )
        except requests.RequestException:
            tally.dropped += 1
            continue
        finally:
            tally.sent += 1
        tally.latencies.append(time.monotonic() - started)
        if answer.status_code >= 500:
            tally.server_errors += 1
            continue
        if answer.status_code == 200:
            check_replies(tally, [m.get("text") or "" for m in answer.json() if m.get("text")], patterns)
    return tally


async def widget_conversation(base: str, messages: List[str], patterns) -> Tally:
    tally, widget = Tally(), WidgetClient(base)
    try:
        await widget.open()
    except Exception:  # noqa: BLE001 - a refused or broken connection is what this counts
        tally.dropped += 1
        return tally
    for text in messages:
        started = time.monotonic()
        tally.sent += 1
        try:
            got = await widget.say(text, wait_for=1, timeout=4)  # a paused conversation answers nothing
        except Exception:  # noqa: BLE001
            tally.dropped += 1
            continue
        if not widget.sio.connected:
            tally.dropped += 1
            break
        if got:
            tally.latencies.append(time.monotonic() - started)
        check_replies(tally, [m.get("text") or "" for m in got if m.get("text")], patterns)
    await widget.close()
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--per-conversation", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--widget-share", type=float, default=0.3, help="share of conversations over socket.io")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    conversations = [
        [hostile(rng) for _ in range(args.per_conversation)]
        for _ in range(max(1, args.messages // args.per_conversation))
    ]
    patterns = reply_patterns()
    var = Path(tempfile.mkdtemp(prefix="porter-fuzz-"))
    print(f"starting Porter in {var} ...", flush=True)
    porter = start_porter(
        var,
        extra_env={
            "PORTER_RATE_CLIENT_PER_MINUTE": "0",
            "PORTER_RATE_CONVERSATION_PER_MINUTE": "0",
            "PORTER_RATE_NEW_CONVERSATIONS_PER_HOUR": "0",
        },
    )
    rest_tally, widget_tally = Tally(), Tally()
    started = time.monotonic()
    try:
        widget_count = int(len(conversations) * args.widget_share)
        jobs: List[Callable[[], tuple]] = []
        for number, messages in enumerate(conversations):
            if number < widget_count:
                jobs.append(
                    lambda m=messages: (widget_tally, asyncio.run(widget_conversation(porter.base, m, patterns)))
                )
            else:
                jobs.append(lambda n=number, m=messages: (rest_tally, rest_conversation(porter.base, n, m, patterns)))
        rng.shuffle(jobs)
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            for done, (total, tally) in enumerate(pool.map(lambda job: job(), jobs), start=1):
                total.add(tally)
                if done % 100 == 0:
                    print(f"  {done}/{len(jobs)} conversations", flush=True)
    finally:
        porter.stop()
    elapsed = time.monotonic() - started
    print(
        f"\n{rest_tally.sent + widget_tally.sent} hostile messages in {elapsed:.0f} s "
        f"({len(conversations)} conversations, {args.concurrency} at once)\n"
    )
    print("| channel | sent | replies | 5xx | dropped | not in Porter's languages | p50 | p95 | slowest |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, tally in (("REST", rest_tally), ("socket.io", widget_tally)):
        lat = sorted(tally.latencies) or [0.0]
        p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
        print(
            f"| {name} | {tally.sent} | {tally.replies} | {tally.server_errors} | {tally.dropped} | "
            f"{len(tally.foreign)} | {statistics.median(lat):.2f} s | {p95:.2f} s | {lat[-1]:.2f} s |"
        )
    for sample in (rest_tally.foreign + widget_tally.foreign)[:5]:
        print(f"  not recognised: {sample!r}")
    bad = sum(t.server_errors + t.dropped + len(t.foreign) for t in (rest_tally, widget_tally))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
