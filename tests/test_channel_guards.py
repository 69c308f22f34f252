"""The pieces every anonymous channel checks a message against: channel-prefixed conversation ids, widget
sessions Porter signs, and rate limits with bounded memory (unit level; tests/test_security.py attacks the
running servers)."""

import pytest

from bot.channels import widget_sessions
from bot.channels.conversation_ids import BadConversationId, channel_of, conversation_id, native_id
from bot.channels.rate_limit import Buckets, RateLimits
from bot.client_address import _parse, client_address

SECRET = "widget-secret-for-tests"


def test_a_conversation_id_names_its_channel_and_no_other_channel_can_use_it():
    assert conversation_id("whatsapp", "34600111222") == "whatsapp:34600111222"
    assert native_id("whatsapp", "whatsapp:34600111222") == "34600111222"
    assert native_id("telegram", "whatsapp:34600111222") is None  # a WhatsApp conversation is not Telegram's
    assert conversation_id("rest", "34600111222") == "rest:34600111222"  # REST cannot write as a WhatsApp shopper
    assert channel_of("web:abc") == "socketio" and channel_of("34600111222") is None


@pytest.mark.parametrize("bad", ["", "   ", "a" * 129, "a b", "a/b", "../x", "x\x00", "x?y"])
def test_a_sender_id_that_could_confuse_a_path_or_a_log_is_refused(bad):
    with pytest.raises(BadConversationId):
        conversation_id("rest", bad)


def test_a_widget_session_is_only_what_porter_signed_and_expires():
    handle = widget_sessions.issue(SECRET, now=1_000_000)
    conversation = widget_sessions.conversation_of(handle, SECRET, now=1_000_001)
    assert conversation.startswith("web:") and handle.split(".")[0] in conversation
    key, expires, signature = handle.split(".")
    other_key = ("A" if key[0] != "A" else "B") + key[1:]
    assert widget_sessions.conversation_of(f"{other_key}.{expires}.{signature}", SECRET, now=1_000_001) is None
    assert (
        widget_sessions.conversation_of(f"{key}.{int(expires) + 86400}.{signature}", SECRET, now=1_000_001) is None
    )  # a longer life cannot be claimed
    assert widget_sessions.conversation_of(handle, "another-secret", now=1_000_001) is None
    assert widget_sessions.conversation_of(handle, SECRET, now=int(expires) + 1) is None
    assert widget_sessions.conversation_of("my-own-session-id", SECRET) is None
    assert widget_sessions.conversation_of({"session_id": handle}, SECRET) is None


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_conversation_writing_faster_than_its_limit_is_told_when_to_come_back():
    clock = Clock()
    limits = RateLimits(conversation_per_minute=3, client_per_minute=100, new_conversations_per_hour=100, clock=clock)
    assert [limits.message("1.2.3.4", "rest:a") for _ in range(3)] == [None, None, None]
    refused = limits.message("1.2.3.4", "rest:a")
    assert refused.reason == "conversation" and refused.retry_after == pytest.approx(20)
    assert limits.message("1.2.3.4", "rest:b") is None  # another conversation is not slowed
    clock.now = 20
    assert limits.message("1.2.3.4", "rest:a") is None


def test_one_address_cannot_open_conversations_without_end():
    clock = Clock()
    limits = RateLimits(conversation_per_minute=100, client_per_minute=1000, new_conversations_per_hour=5, clock=clock)
    assert all(limits.message("6.6.6.6", f"rest:new-{n}") is None for n in range(5))
    refused = limits.message("6.6.6.6", "rest:new-5")
    assert refused.reason == "new_conversations"
    assert limits.message("6.6.6.6", "rest:new-0") is None  # ongoing conversations go on
    assert limits.message("7.7.7.7", "rest:other") is None  # other shoppers are not affected


def test_the_limits_forget_the_oldest_keys_so_memory_stays_bounded():
    buckets = Buckets(capacity=5, period=60, clock=Clock(), max_keys=1000)
    for n in range(100_000):
        buckets.take(f"client-{n}")
    assert len(buckets) == 1000


def test_forwarded_addresses_count_only_from_trusted_proxies():
    proxies = _parse("127.0.0.1,10.0.0.0/8")
    assert client_address("127.0.0.1", "203.0.113.9", proxies) == "203.0.113.9"
    assert client_address("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.2.3", proxies) == "203.0.113.9"
    assert client_address("198.51.100.7", "203.0.113.9", proxies) == "198.51.100.7"  # not a proxy: ignored
    assert client_address("127.0.0.1", "not-an-address", proxies) == "127.0.0.1"


@pytest.mark.parametrize(
    "text, language",
    [("my parcel never arrived", "en"), ("hola, mi paquete todavía no ha llegado", "es"), ("我的包裹还没到", "zh")],
)
def test_a_turn_that_fails_is_answered_with_a_request_to_send_it_again_in_the_shoppers_language(text, language):
    """The conversations' database away longer than Rasa waits (bot/tracker_store.py): the REST and widget
    channels must not leave the shopper with silence."""
    import asyncio

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from bot.channels import inbound, notices
    from bot.tracker_store import TrackerStoreUnavailable

    async def failing_turn(_message):
        raise TrackerStoreUnavailable("the conversations' database is unreachable (reading a conversation)")

    output = CollectingOutputChannel()
    handled = asyncio.run(inbound.hand_to_rasa(failing_turn, UserMessage(text, output, "rest:abc"), {}))
    assert not handled
    assert [message["text"] for message in output.messages] == [notices.say(notices.TRY_AGAIN, language)]
    assert [message["recipient_id"] for message in output.messages] == ["rest:abc"]
