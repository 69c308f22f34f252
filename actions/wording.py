"""Dates, amounts and tracking evidence written in the shopper's language.

The sentences themselves are responses in domain.yml; this module only renders the values that go into
their placeholders, so a Chinese reply never carries an English date or status.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable, Optional

from babel.dates import format_date, format_time, format_timedelta, get_datetime_format, get_timezone_location
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
    "es": {"Pending": "esperando al transportista", "InfoReceived": "etiqueta creada", "InTransit": "en tránsito",
           "OutForDelivery": "en reparto", "AttemptFail": "intento de entrega fallido", "Delivered": "entregado",
           "AvailableForPickup": "listo para recoger", "Exception": "incidencia", "Expired": "sin novedades"},
    "fr": {"Pending": "en attente du transporteur", "InfoReceived": "étiquette créée", "InTransit": "en transit",
           "OutForDelivery": "en cours de livraison", "AttemptFail": "tentative de livraison échouée",
           "Delivered": "livré", "AvailableForPickup": "disponible en point de retrait",
           "Exception": "incident signalé", "Expired": "aucune nouvelle"},
    "de": {"Pending": "wartet auf den Versanddienst", "InfoReceived": "Versandetikett erstellt",
           "InTransit": "unterwegs", "OutForDelivery": "in Zustellung", "AttemptFail": "Zustellversuch fehlgeschlagen",
           "Delivered": "zugestellt", "AvailableForPickup": "zur Abholung bereit", "Exception": "Problem gemeldet",
           "Expired": "keine neuen Informationen"},
    "ru": {"Pending": "ожидает передачи перевозчику", "InfoReceived": "создана накладная", "InTransit": "в пути",
           "OutForDelivery": "передано курьеру", "AttemptFail": "неудачная попытка доставки", "Delivered": "доставлено",
           "AvailableForPickup": "ожидает в пункте выдачи", "Exception": "проблема при доставке",
           "Expired": "нет новостей"},
    "pt": {"Pending": "aguardando a transportadora", "InfoReceived": "etiqueta criada", "InTransit": "em trânsito",
           "OutForDelivery": "saiu para entrega", "AttemptFail": "tentativa de entrega sem sucesso",
           "Delivered": "entregue", "AvailableForPickup": "disponível para retirada", "Exception": "problema informado",
           "Expired": "sem novidades"},
}
SUBSTATUS_LABELS = {
    "en": {"customs_hold": "held by customs", "customs_documents_required": "customs needs documents",
           "customs_duties_unpaid": "import duties to pay", "customs_released": "released by customs",
           "address_incorrect": "address incorrect or incomplete", "recipient_absent": "nobody at home",
           "recipient_refused": "refused at the door", "returning_to_sender": "returning to sender",
           "returned_to_sender": "returned to sender", "damaged": "damaged", "lost": "lost", "delayed": "delayed"},
    "zh": {"customs_hold": "海关扣留", "customs_documents_required": "海关要求补充材料",
           "customs_duties_unpaid": "待缴进口税费",
           "customs_released": "海关已放行", "address_incorrect": "地址错误或不完整", "recipient_absent": "收件人不在",
           "recipient_refused": "收件人拒收", "returning_to_sender": "正在退回", "returned_to_sender": "已退回发件人",
           "damaged": "破损", "lost": "丢失", "delayed": "延误"},
    "es": {"customs_hold": "retenido en aduana", "customs_documents_required": "la aduana pide documentos",
           "customs_duties_unpaid": "impuestos de importación pendientes", "customs_released": "liberado por aduana",
           "address_incorrect": "dirección incorrecta o incompleta", "recipient_absent": "no había nadie en casa",
           "recipient_refused": "rechazado en la entrega", "returning_to_sender": "volviendo al remitente",
           "returned_to_sender": "devuelto al remitente", "damaged": "dañado", "lost": "perdido",
           "delayed": "retrasado"},
    "fr": {"customs_hold": "retenu en douane", "customs_documents_required": "la douane demande des documents",
           "customs_duties_unpaid": "droits d'importation à payer", "customs_released": "dédouané",
           "address_incorrect": "adresse incorrecte ou incomplète", "recipient_absent": "personne au domicile",
           "recipient_refused": "refusé à la livraison", "returning_to_sender": "en retour vers l'expéditeur",
           "returned_to_sender": "retourné à l'expéditeur", "damaged": "endommagé", "lost": "perdu",
           "delayed": "retardé"},
    "de": {"customs_hold": "vom Zoll zurückgehalten", "customs_documents_required": "Zoll braucht Unterlagen",
           "customs_duties_unpaid": "Einfuhrabgaben offen", "customs_released": "vom Zoll freigegeben",
           "address_incorrect": "Adresse falsch oder unvollständig", "recipient_absent": "niemand angetroffen",
           "recipient_refused": "Annahme verweigert", "returning_to_sender": "geht zurück an den Absender",
           "returned_to_sender": "an den Absender zurückgeschickt", "damaged": "beschädigt", "lost": "verloren",
           "delayed": "verspätet"},
    "ru": {"customs_hold": "задержано на таможне", "customs_documents_required": "таможня запросила документы",
           "customs_duties_unpaid": "нужно оплатить пошлину", "customs_released": "выпущено таможней",
           "address_incorrect": "адрес неверный или неполный", "recipient_absent": "получателя не было дома",
           "recipient_refused": "получатель отказался", "returning_to_sender": "возвращается отправителю",
           "returned_to_sender": "возвращено отправителю", "damaged": "повреждено", "lost": "утеряно",
           "delayed": "задерживается"},
    "pt": {"customs_hold": "retido na alfândega", "customs_documents_required": "a alfândega pede documentos",
           "customs_duties_unpaid": "impostos de importação a pagar", "customs_released": "liberado pela alfândega",
           "address_incorrect": "endereço incorreto ou incompleto", "recipient_absent": "destinatário ausente",
           "recipient_refused": "recusado na entrega", "returning_to_sender": "voltando ao remetente",
           "returned_to_sender": "devolvido ao remetente", "damaged": "danificado", "lost": "extraviado",
           "delayed": "atrasado"},
}


NO_SCANS = {"en": {"none": "no scans yet"}, "zh": {"none": "暂无物流记录"}, "es": {"none": "aún sin escaneos"},
            "fr": {"none": "pas encore de scan"}, "de": {"none": "noch keine Scans"},
            "ru": {"none": "пока нет отметок"}, "pt": {"none": "ainda sem registros"}}


def _locale(language: Optional[str]) -> str:
    return {"zh": "zh_Hans", "pt": "pt_BR"}.get(language or DEFAULT_LANGUAGE, language or DEFAULT_LANGUAGE)


def day(value: date | datetime, language: Optional[str]) -> str:
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format="long" if language == "zh" else "medium", locale=_locale(language))


def moment(value: datetime, language: Optional[str]) -> str:
    """A weekday, date and time in the value's own time zone, with its city: 'Monday, November 2, 2026,
    9:00 AM (Berlin)', '2026年11月2日星期一 09:00（柏林）'. For when the agents are back."""
    locale = _locale(language)
    when = get_datetime_format("long", locale=locale).replace("'", "") \
        .replace("{1}", format_date(value, format="full", locale=locale)) \
        .replace("{0}", format_time(value, format="short", tzinfo=value.tzinfo, locale=locale))
    zone = getattr(value.tzinfo, "key", None)
    if not zone or zone.startswith("Etc/") or zone in ("UTC", "GMT"):
        city = "UTC"
    else:
        city = get_timezone_location(value.tzinfo, locale=locale, return_city=True)
    return f"{when}（{city}）" if language == "zh" else f"{when} ({city})"


def duration(value: timedelta, language: Optional[str]) -> str:
    """'10 minutes', '2 hours', '10分钟', '10 минут': a rounded length of time in the shopper's language."""
    return format_timedelta(value, threshold=1, locale=_locale(language))


def money(amount: float, currency: str, language: Optional[str]) -> str:
    return format_currency(amount, currency, locale=_locale(language))


def _label(table: dict, language: Optional[str], key: str) -> str:
    fallback = table[DEFAULT_LANGUAGE]
    return table.get(language or DEFAULT_LANGUAGE, fallback).get(key) or fallback.get(key, key)


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
    return "\n".join(lines) if lines else "• " + _label(NO_SCANS, language, "none")


def language_of(tracker) -> str:
    return tracker.get_slot("language") or DEFAULT_LANGUAGE
