"""Dates, amounts and tracking evidence written in the shopper's language.

The sentences themselves are responses in domain.yml; this module only renders the values that go into
their placeholders, so a Chinese reply never carries an English date or status.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Iterable, Optional

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency

from bot.shop.models import TrackingEvent

DEFAULT_LANGUAGE = "en"

STATUS_LABELS = {
    "en": {"Pending": "waiting for the carrier", "InfoReceived": "label created", "InTransit": "in transit",
           "OutForDelivery": "out for delivery", "AttemptFail": "delivery attempt failed", "Delivered": "delivered",
           "AvailableForPickup": "ready for pickup", "Exception": "problem reported", "Expired": "no news"},
    "zh": {"Pending": "等待揽收", "InfoReceived": "已生成运单", "InTransit": "运输中", "OutForDelivery": "派送中",
           "AttemptFail": "派送未成功", "Delivered": "已签收", "AvailableForPickup": "待自提",
           "Exception": "异常", "Expired": "长时间无更新"},
}
SUBSTATUS_LABELS = {
    "en": {"customs_hold": "held by customs", "customs_documents_required": "customs needs documents",
           "customs_duties_unpaid": "import duties to pay", "customs_released": "released by customs",
           "address_incorrect": "address incorrect or incomplete", "recipient_absent": "nobody at home",
           "recipient_refused": "refused at the door", "returning_to_sender": "returning to sender",
           "returned_to_sender": "returned to sender", "damaged": "damaged", "lost": "lost", "delayed": "delayed"},
    "zh": {"customs_hold": "海关扣留", "customs_documents_required": "海关要求补充材料", "customs_duties_unpaid": "待缴进口税费",
           "customs_released": "海关已放行", "address_incorrect": "地址错误或不完整", "recipient_absent": "收件人不在",
           "recipient_refused": "收件人拒收", "returning_to_sender": "正在退回", "returned_to_sender": "已退回发件人",
           "damaged": "破损", "lost": "丢失", "delayed": "延误"},
}


def _locale(language: Optional[str]) -> str:
    return {"zh": "zh_Hans", "pt": "pt_PT"}.get(language or DEFAULT_LANGUAGE, language or DEFAULT_LANGUAGE)


def day(value: date | datetime, language: Optional[str]) -> str:
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format="long" if language == "zh" else "medium", locale=_locale(language))


def moment(value: datetime, language: Optional[str]) -> str:
    return format_datetime(value, format="medium", locale=_locale(language))


def money(amount: float, currency: str, language: Optional[str]) -> str:
    return format_currency(amount, currency, locale=_locale(language))


def _label(table: dict, language: Optional[str], key: str) -> str:
    return table.get(language or DEFAULT_LANGUAGE, table[DEFAULT_LANGUAGE]).get(key) or table[DEFAULT_LANGUAGE].get(key, key)


def scans(events: Iterable[TrackingEvent], language: Optional[str], last: int = 3) -> str:
    """The latest scans, newest first: '• 12 Oct 2026, Lisboa, PT: in transit'."""
    lines = []
    for event in list(events)[-last:][::-1]:
        status = _label(STATUS_LABELS, language, event.status)
        if event.substatus:
            status = _label(SUBSTATUS_LABELS, language, event.substatus)
        where = f", {event.location}" if event.location else ""
        separator = "：" if language == "zh" else ": "
        lines.append(f"• {day(event.at, language)}{where}{separator}{status}")
    return "\n".join(lines) if lines else ("• 暂无物流记录" if language == "zh" else "• no scans yet")


def language_of(tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE
