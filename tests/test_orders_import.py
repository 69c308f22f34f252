import pytest
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from bot.paths import PROJECT_ROOT
from bot.shop.importer import import_orders
from bot.shop.orders_format import OrderFileError
from bot.shop.sqlite_store import SQLiteOrderStore

from tests.conftest import DEMO_ANCHOR, DEMO_FILE


def cli(*args, env_var):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={"PORTER_VAR_DIR": str(env_var), "PORTER_SHOP_DB": str(env_var / "shop.db"), "PATH": "/usr/bin:/bin"},
    )


def test_importing_twice_gives_the_same_store(var):
    store = SQLiteOrderStore()
    import_orders(DEMO_FILE, store)
    first = [o.to_dict() for o in store.all()]
    import_orders(DEMO_FILE, store)
    assert [o.to_dict() for o in store.all()] == first
    assert len(first) == 18


def test_a_changed_order_overwrites_the_old_one(var, demo_document, order_file):
    store = SQLiteOrderStore()
    import_orders(order_file(), store)
    demo_document["orders"][0]["email"] = "new.address@example.com"
    import_orders(order_file(demo_document), store)
    assert store.get("A10023").email == "new.address@example.com"


def test_a_bad_file_is_rejected_whole_naming_order_and_field(var, demo_document, order_file):
    store = SQLiteOrderStore()
    demo_document["orders"][0]["email"] = "new.address@example.com"  # a valid change that must not land
    demo_document["orders"][3]["shipment"]["events"][1]["status"] = "Teleported"
    demo_document["orders"][5]["total"] = "lots"
    try:
        import_orders(order_file(demo_document), store)
    except OrderFileError as exc:
        problems = exc.problems
    else:
        raise AssertionError("the file should have been rejected")
    assert any(p.startswith("order PO-88812: shipment.events[1].status") for p in problems)
    assert any(p.startswith("order 123456789: total") for p in problems)
    assert store.all() == []


@pytest.mark.slow
def test_cli_reports_errors_clearly_and_writes_nothing(var, demo_document, order_file):
    del demo_document["orders"][2]["email"]
    result = cli("orders", "import", str(order_file(demo_document)), env_var=var)
    assert result.returncode == 2
    assert "order #1001: email: is required" in result.stderr
    assert "nothing was written" in result.stderr
    assert json.loads(cli("cases", "list", "--format", "json", env_var=var).stdout) == []


@pytest.mark.slow
def test_cli_rejects_files_that_are_not_orders(var, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    result = cli("orders", "import", str(path), env_var=var)
    assert result.returncode == 2 and "not valid JSON (line 1" in result.stderr
    path.write_text(json.dumps({"format": "orders/v2", "orders": []}))
    assert "format must be 'orders/v1'" in cli("orders", "import", str(path), env_var=var).stderr
    assert "does not exist" in cli("orders", "import", str(tmp_path / "nope.json"), env_var=var).stderr


def test_demo_dates_are_re_anchored_to_the_import_time(var):
    store = SQLiteOrderStore()
    now = datetime(2027, 3, 15, 12, tzinfo=timezone.utc)
    import_orders(DEMO_FILE, store, relative_to=DEMO_ANCHOR, now=now)
    stalled = store.get("A10024").shipment
    assert now - stalled.events[-1].at == timedelta(days=12)
    assert stalled.promised_by == (now - timedelta(days=5)).date()


def test_lookup_by_tracking_number(demo_store):
    assert demo_store.find_by_tracking_number("lp00123456789012").order_number == "A10023"
    assert demo_store.get("#1001").order_number == "#1001"
    assert demo_store.get("1001").order_number == "#1001"
