import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from bot.decisions.cases import FAILED, PENDING, CaseBook
from bot.paths import PROJECT_ROOT


def test_the_same_choice_twice_returns_the_first_case(var):
    book = CaseBook()
    first, created = book.open_case(
        type="refund",
        idempotency_key="A10024:parcel_not_received:refund",
        order_number="A10024",
        amount=36.5,
        currency="USD",
        conversation_id="c1",
    )
    again, created_again = book.open_case(
        type="refund",
        idempotency_key="A10024:parcel_not_received:refund",
        order_number="A10024",
        amount=36.5,
        currency="USD",
        conversation_id="c2",
    )
    assert created and not created_again and again.reference == first.reference
    assert len(book.list(order_number="A10024")) == 1


def test_money_never_goes_out_twice_for_one_order(var):
    book = CaseBook()
    refund, _ = book.open_case(
        type="refund", idempotency_key="A10024:parcel_not_received:refund", order_number="A10024"
    )
    reship, created = book.open_case(
        type="reshipment", idempotency_key="A10024:where_is_my_order:reship", order_number="A10024"
    )
    assert not created and reship.reference == refund.reference


def test_concurrent_clicks_create_one_case(var):
    def click(_):
        return CaseBook().open_case(type="refund", idempotency_key="A10029:lost:refund", order_number="A10029")[0]

    with ThreadPoolExecutor(8) as pool:
        references = {case.reference for case in pool.map(click, range(16))}
    assert len(references) == 1


def test_cases_list_json_prints_every_field(var):
    CaseBook().open_case(
        type="handoff_request",
        idempotency_key="handoff:c9:shopper_asked",
        conversation_id="c9",
        details={"language": "zh"},
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list", "--format", "json"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    [case] = json.loads(result.stdout)
    assert case["type"] == "handoff_request" and case["conversation_id"] == "c9"
    assert case["reference"].startswith("PC-") and case["created_at"] and case["status"] == "open"
    assert set(case) >= {"reference", "order_number", "type", "status", "amount", "conversation_id", "created_at"}


def test_one_payment_attempt_at_a_time_and_a_crashed_one_runs_out(var):
    case, _ = CaseBook().open_case(
        type="refund",
        idempotency_key="A10024:parcel_not_received:refund",
        order_number="A10024",
        amount=36.5,
        status="open",
    )
    assert case.status == PENDING  # a refund is a payment: pending until the money is confirmed
    now = datetime.now(timezone.utc)
    until = now + timedelta(minutes=10)
    with ThreadPoolExecutor(8) as pool:  # a shopper's clicks and the retry worker at the same moment
        claims = list(pool.map(lambda _: CaseBook().claim_payment(case.reference, now, until), range(16)))
    [claimed] = [c for c in claims if c]
    assert claimed.details["attempts"] == 1
    assert CaseBook().claim_payment(case.reference, until - timedelta(seconds=1), until) is None
    again = CaseBook().claim_payment(case.reference, until, until + timedelta(minutes=10))  # the holder crashed
    assert again.details["attempts"] == 2
    CaseBook().finish_payment(case.reference, FAILED, {"failure": "HTTP 503"})
    assert CaseBook().claim_payment(case.reference, until, until).details["attempts"] == 3
