"""The analytics' figures on a small seeded history (tests/support/analytics_history.py), each number worked
out by hand from the history that module describes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.analytics.figures import Analytics, Filters
from bot.analytics.masking import masked
from bot.paths import PROJECT_ROOT
from tests.support.analytics_history import FIRST_DAY, LAST_DAY, NOV_10, events_url, said, save, seed


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.engines)])
def history(request, var, monkeypatch):
    """The seeded history on each engine: Porter's database and Rasa's conversations, both SQLite files in the
    test's var/ or both PostgreSQL databases. Returns where Rasa's conversations are."""
    if request.param == "sqlite":
        where, tracker_db = var / "shop.db", var / "tracker.db"
    else:
        server = request.getfixturevalue("postgres")
        where, tracker_db = server.new_database(), server.new_database()
        monkeypatch.setenv("PORTER_DATABASE_URL", where)
        monkeypatch.setenv("PORTER_TRACKER_DATABASE_URL", tracker_db)
    seed(where, tracker_db)
    return tracker_db


def figures(rasa_db, **filters):
    tables = Analytics(events_url=events_url(rasa_db)).compute(Filters(FIRST_DAY, LAST_DAY, **filters))
    return {t.key: t.rows for t in tables}


def test_conversations_per_day_by_reason_language_and_channel(history):
    got = figures(history)
    assert got["conversations_by_reason"] == [
        ["2026-11-10", "(none)", 1],
        ["2026-11-10", "damaged_item", 1],
        ["2026-11-10", "where_is_my_order", 1],
        ["2026-11-11", "where_is_my_order", 1],
    ]
    assert got["conversations_by_language"] == [
        ["2026-11-10", "en", 2],
        ["2026-11-10", "es", 1],
        ["2026-11-11", "es", 1],
    ]
    assert got["conversations_by_channel"] == [
        ["2026-11-10", "rest", 1],
        ["2026-11-10", "socketio", 1],
        ["2026-11-10", "telegram", 1],
        ["2026-11-11", "telegram", 1],
    ]


def test_automation_and_handoff_rates(history):
    assert figures(history)["automation"] == [
        ["damaged_item", 1, 0, 0.0, 1, 1.0],
        ["where_is_my_order", 2, 2, 1.0, 0, 0.0],
        ["all problems", 3, 2, 0.6667, 1, 0.3333],
        ["all conversations", 4, 3, 0.75, 1, 0.25],
    ]
    assert figures(history)["handoff_reasons"] == [["upset", 1, 1.0]]


def test_ratings_times_fixes_and_the_masked_messages(history):
    got = figures(history)
    assert got["ratings_by_agent"] == [["Ana", 1, 2.0, 0, 1, 0, 0, 0], ["Porter", 1, 5.0, 0, 0, 0, 0, 1]]
    assert got["ratings_by_language"] == [["en", 1, 2.0, 0, 1, 0, 0, 0], ["es", 1, 5.0, 0, 0, 0, 0, 1]]
    assert got["handover_times"] == [["first reply", 1, 5.0, 5.0], ["resolution", 1, 60.0, 60.0]]
    assert got["least_understood"] == [["blorf qq", "en", 1], ["my email is <email> blorf", "en", 1]]
    assert got["fixes"] == [
        ["discount", "Correos", "ES", "EUR", 1, 3.3],
        ["refund", "YunExpress", "US", "USD", 1, 36.5],
    ]
    assert got["ratings_by_reason"] == [
        ["damaged_item", 1, 2.0, 0, 1, 0, 0, 0],
        ["where_is_my_order", 1, 5.0, 0, 0, 0, 0, 1],
    ]


def test_filters_by_language_and_channel(history):
    spanish = figures(history, language="es")
    assert spanish["conversations_by_channel"] == [["2026-11-10", "telegram", 1], ["2026-11-11", "telegram", 1]]
    assert spanish["least_understood"] == [] and spanish["ratings_by_agent"] == [["Porter", 1, 5.0, 0, 0, 0, 0, 1]]
    widget = figures(history, channel="socketio")
    assert widget["automation"][-1] == ["all conversations", 1, 0, 0.0, 1, 1.0]


def test_the_index_reads_only_what_rasa_wrote_since(history):
    analytics = Analytics(events_url=events_url(history))
    first = analytics.index.update()
    assert first > 0 and analytics.index.update() == 0
    save(history, "rest:x", [said("still blorf", "nlu_fallback", NOV_10 + 200)])
    assert analytics.index.update() == 1
    got = figures(history)
    assert got["conversations_by_channel"][0] == ["2026-11-10", "rest", 1]  # the same session, not a new one
    assert ["still blorf", "en", 1] in got["least_understood"]


def test_identifiers_never_reach_the_list():
    assert masked("order A10024, mail ana@example.com or +34 612 345 678") == "order <order>, mail <email> or <phone>"
    assert masked("x" * 500).endswith("…") and len(masked("x" * 500)) == 200


def test_the_report_on_the_command_line(history, monkeypatch):
    env = {"PORTER_TRACKER_DB": str(history)}
    run = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--since", "2026-11-10", "--until", "2026-11-11", "--format", "json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    keys = [f["key"] for f in report["figures"]]
    assert "automation" in keys and report["filters"]["since"] == "2026-11-10"
    md = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--since", "2026-11-10", "--until", "2026-11-11"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert "| where_is_my_order | 2 | 2 | 1 | 0 | 0 |" in md.stdout
    csv_out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "report",
            "--since",
            "2026-11-10",
            "--format",
            "csv",
            "--figure",
            "handoff_reasons",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert csv_out.stdout.splitlines()[1:] == ["reason,tickets,share", "upset,1,1.0"]
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--since", "2026-11-12", "--until", "2026-11-10"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert bad.returncode == 2 and "ends (2026-11-10) before it starts (2026-11-12)" in bad.stderr
