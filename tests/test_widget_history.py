"""The conversation the widget shows after a reload is the one Rasa holds, read from its events."""

from bot.web.widget_history import widget_messages

REFUND = '/inform{"fix":"refund"}'
EVENTS = [
    {"event": "action", "name": "action_session_start", "timestamp": 1.0},
    {"event": "user", "text": "/greet", "timestamp": 1.1},
    {"event": "bot", "text": "Hi, I'm Porter", "timestamp": 1.2},
    {"event": "user", "text": "my parcel never arrived", "timestamp": 2.0},
    {"event": "slot", "name": "problem", "value": "parcel_not_received", "timestamp": 2.1},
    {
        "event": "bot",
        "text": "What would you prefer?",
        "data": {"buttons": [{"title": "Full refund", "payload": REFUND}, {"title": "A person", "payload": "/h"}]},
        "timestamp": 3.0,
    },
    {"event": "user", "text": REFUND, "timestamp": 4.0},
    {"event": "bot", "text": "Done: refunded, PC-ABC123", "timestamp": 4.5},
    {"event": "bot", "text": "Hi, Maria here from the shop", "metadata": {"porter_desk_message": 7}, "timestamp": 9.0},
]


def test_the_shopper_sees_what_was_said_in_order_with_clicked_buttons_as_their_titles():
    shown = [(m["sender"], m["text"]) for m in widget_messages(EVENTS)]
    assert shown == [
        ("response", "Hi, I'm Porter"),
        ("client", "my parcel never arrived"),
        ("response", "What would you prefer?"),
        ("client", "Full refund"),  # the click, as the widget showed it, not its payload
        ("response", "Done: refunded, PC-ABC123"),
        ("response", "Hi, Maria here from the shop"),  # an agent's reply sent while the page was closed
    ]


def test_a_choice_already_made_is_not_offered_again():
    choice = next(m for m in widget_messages(EVENTS) if m["type"] == "buttons")
    assert choice["chosenReply"] == "Full refund"
    assert [r["title"] for r in choice["quick_replies"]] == ["Full refund", "A person"]
    open_choice = widget_messages(EVENTS[:6])[-1]
    assert open_choice["type"] == "buttons" and open_choice["chosenReply"] is None


def test_only_the_latest_messages_are_sent_back():
    many = [{"event": "bot", "text": f"message {n}", "timestamp": n} for n in range(300)]
    shown = widget_messages(many, limit=200)
    assert len(shown) == 200 and shown[0]["text"] == "message 100" and shown[-1]["text"] == "message 299"
    assert shown[-1]["timestamp"] == 299_000
