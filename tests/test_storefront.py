"""The storefront as a shopper uses it: Debian's Chromium, driven by Playwright, opens the demo shop that
`python -m bot serve` serves, opens the chat bubble and talks to Porter over socket.io.

Needs /usr/bin/chromium (`make browser`, which `make test` runs) and the widget bundle (`make install-web`).
The `porter` fixture (conftest.py) is the running assistant shared with the other live tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.channels import widget_sessions
from bot.channels.identity import trusted
from bot.paths import PROJECT_ROOT, var_dir
from bot.web.pages import WIDGET_BUNDLE
from tests.support import needs
from tests.support.desk import private_order
from tests.support.porter_server import IDENTITY_SECRET, TOKEN

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps trying to reach Google's hosts, which this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
REPLY = 60_000  # ms: the first replies of a fresh server can take a while on 2 cores
REFERENCE = re.compile(r"PC-[A-Z0-9]{6}")
expect.set_options(timeout=REPLY)  # every expect() below waits for what the shopper should see, up to REPLY


@pytest.fixture(scope="module")
def browser():
    needs.starting("browser")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium)")
    if not WIDGET_BUNDLE.exists():
        pytest.fail(f"{WIDGET_BUNDLE} is missing: run `make install-web`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def new_shopper(browser: Browser, locale: str = "en-US") -> Page:
    """A shopper with their own browser profile (fresh local storage), in the given browser language."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(REPLY)
    return context.new_page()


def open_chat(page: Page) -> None:
    page.locator("button.rw-launcher").first.click()
    expect(page.locator("textarea.rw-new-message")).to_be_visible()


def chat_again(page: Page) -> None:
    """After a reload or on return: once the widget has started (it first reads the conversation back), the
    chat as the shopper left it, opened if it was closed."""
    expect(page.locator("button.rw-launcher").first).to_be_attached()
    try:  # the widget reopens by itself if it was open; a click now would close it
        expect(page.locator("textarea.rw-new-message")).to_be_visible(timeout=3000)
    except AssertionError:
        open_chat(page)


def say(page: Page, text: str) -> None:
    box = page.locator("textarea.rw-new-message")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".rw-client").last).to_have_text(text)


def conversation(page: Page):
    return page.locator("#rw-messages")


def porter_says(page: Page, text) -> None:
    """Waits until one of Porter's messages shows `text` (a string or a compiled pattern)."""
    expect(page.locator(".rw-response").filter(has_text=text).first).to_be_visible()


def shoot(page: Page, name: str) -> Path:
    """What the shopper sees, kept for people to look at: var/screenshots/NAME (printed with pytest -s)."""
    path = var_dir() / "screenshots" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def widget_session(page: Page) -> str:
    """The conversation of the session handle the widget keeps in the browser (Rasa's sender id for this
    shopper), as Porter reads the handle."""
    handle = page.evaluate("JSON.parse(window.localStorage.getItem('chat_session')).session_id")
    return widget_sessions.conversation_of(handle, IDENTITY_SECRET)


def cases(porter) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "cases", "list", "--format", "json"],
        cwd=PROJECT_ROOT,
        env=porter.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_shopper_gets_a_refund_in_the_chat_widget_and_keeps_the_conversation_after_a_reload(
    porter, browser, undo_cases
):
    page = new_shopper(browser)
    page.goto(f"{porter.web}/")
    expect(page.get_by_role("heading", name="Quiet things for the home, shipped worldwide.")).to_be_visible()

    open_chat(page)
    porter_says(page, "Hi, I'm Porter")
    undo_cases.append(widget_session(page))
    say(page, "my parcel never arrived")
    porter_says(page, "What is your order number?")
    say(page, "A10029")  # lost by the carrier; no other live test touches this order
    porter_says(page, "the email address you used")
    say(page, "diego.hernandez@example.mx")
    porter_says(page, "reports that your parcel was lost")
    porter_says(page, "Mexico City, MX: lost")
    refund = page.locator(".rw-reply", has_text="Full refund")
    expect(refund).to_be_visible()
    expect(page.locator(".rw-reply", has_text="Send a new one free")).to_be_visible()

    shoot(page, "storefront-choices.png")
    refund.click()
    answer = page.locator(".rw-response").filter(has_text=re.compile(r"Done: I've refunded .*PC-"))
    expect(answer.first).to_be_visible()
    reference = REFERENCE.search(answer.first.inner_text()).group(0)
    porter_says(page, "Is there anything else I can help you with?")
    refund_case = next(c for c in cases(porter) if c["reference"] == reference)
    assert (refund_case["type"], refund_case["order_number"]) == ("refund", "A10029")
    porter_says(page, "opened a claim with DHL")

    shoot(page, "storefront-refund.png")

    page.reload()
    expect(page.get_by_role("heading", name="Quiet things for the home, shipped worldwide.")).to_be_visible()
    chat_again(page)
    for shown in ("my parcel never arrived", "A10029", "diego.hernandez@example.mx", "your parcel was lost", reference):
        expect(conversation(page)).to_contain_text(shown)
    # the reloaded page continues the conversation; it does not greet the shopper a second time
    expect(page.locator(".rw-response", has_text="Hi, I'm Porter")).to_have_count(1)
    say(page, "thanks")
    porter_says(page, "You're welcome")
    page.context.close()


def test_a_french_shopper_is_greeted_and_answered_in_french(porter, browser):
    page = new_shopper(browser, locale="en-US")  # the page's ?lang=fr wins over the browser's language
    page.goto(f"{porter.web}/?lang=fr")
    open_chat(page)
    expect(page.locator("textarea.rw-new-message")).to_have_attribute("placeholder", "Écrivez un message...")
    porter_says(page, "Bonjour, je suis Porter")
    say(page, "mon colis n'est jamais arrivé")
    porter_says(page, "Quel est votre numéro de commande ?")
    page.context.close()


def test_a_signed_in_customer_is_not_asked_for_the_email(porter, browser):
    page = new_shopper(browser)
    page.goto(f"{porter.web}/?customer=claire.dubois@example.fr")
    expect(page.get_by_text("Signed in as claire.dubois@example.fr")).to_be_visible()
    open_chat(page)
    porter_says(page, "Hi, I'm Porter")
    say(page, "where is my order")
    porter_says(page, "What is your order number?")
    say(page, "#1001")
    porter_says(page, "economy mail without tracking")
    expect(page.locator(".rw-reply", has_text="Full refund")).to_be_visible()
    expect(conversation(page)).not_to_contain_text("email address")
    page.context.close()


def test_the_page_signs_the_customer_for_its_own_conversation_and_escapes_what_it_is_given(porter):
    page = requests.get(f"{porter.web}/", params={"customer": "Claire.Dubois@Example.fr", "lang": "fr"}, timeout=30)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    widget = json.loads(
        re.search(r'<script id="porter-widget" type="application/json">(.*?)</script>', page.text).group(1)
    )
    assert widget["socketUrl"] == porter.base and widget["locale"] == "fr"
    assert widget["customer"] == "claire.dubois@example.fr" and "identity" not in widget

    session = requests.post(
        f"{porter.web}{widget['sessionUrl']}", json={"session": None, "customer": widget["customer"]}, timeout=30
    )
    assert session.status_code == 200
    handle, claim = session.json()["session"], {"identity": session.json()["identity"]}
    conversation = widget_sessions.conversation_of(handle, IDENTITY_SECRET)
    assert conversation.startswith("web:")
    assert trusted(claim, conversation, secret=IDENTITY_SECRET) == {"email": "claire.dubois@example.fr"}
    assert trusted(claim, "web:another-conversation", secret=IDENTITY_SECRET) == {}
    assert trusted(claim, conversation, secret="another-secret") == {}
    again = requests.post(f"{porter.web}/widget/session", json={"session": handle}, timeout=30).json()
    assert again["session"] == handle and again["identity"] is None  # the same chat; no customer, no identity
    made_up = requests.post(f"{porter.web}/widget/session", json={"session": handle[:-2] + "xx"}, timeout=30)
    assert made_up.json()["session"] != handle  # a forged handle gets a new chat

    hostile = '"><script>alert(1)</script>'
    page = requests.get(f"{porter.web}/", params={"customer": hostile + "@x.io", "lang": hostile}, timeout=30)
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert '"customer": null' in page.text and '"locale": null' in page.text

    bundle = requests.get(f"{porter.web}/widget/webchat.js", timeout=30)
    assert bundle.status_code == 200 and "WebChat" in bundle.text[:2000]


def test_a_reload_while_porter_answers_loses_nothing(porter, browser):
    page = new_shopper(browser)
    page.goto(f"{porter.web}/")
    open_chat(page)
    porter_says(page, "Hi, I'm Porter")
    say(page, "my parcel never arrived")
    page.reload()  # at once: the widget has shown none of the answer yet
    chat_again(page)
    porter_says(page, "What is your order number?")
    expect(page.locator(".rw-response", has_text="What is your order number?")).to_have_count(1)
    expect(page.locator(".rw-client", has_text="my parcel never arrived")).to_have_count(1)
    expect(page.locator(".rw-response", has_text="Hi, I'm Porter")).to_have_count(1)
    shoot(page, "storefront-after-reload.png")
    page.context.close()


def test_a_reply_sent_while_the_page_was_closed_is_there_on_return(porter, browser):
    page = new_shopper(browser)
    context = page.context
    page.goto(f"{porter.web}/")
    open_chat(page)
    porter_says(page, "Hi, I'm Porter")
    conversation_id = widget_session(page)
    page.close()  # the shopper leaves; the browser keeps the chat session, as it would for a later visit
    requests.post(  # what the desk does with an agent's reply (bot/web/desk.py, RasaConversations.send)
        f"{porter.base}/conversations/{conversation_id}/tracker/events",
        params={"token": TOKEN},
        json=[{"event": "bot", "text": "Hi, this is Maria from the shop: your parcel left today."}],
        timeout=60,
    ).raise_for_status()
    page = context.new_page()
    page.goto(f"{porter.web}/")
    chat_again(page)
    porter_says(page, "this is Maria from the shop")
    expect(page.locator(".rw-response", has_text="Hi, I'm Porter")).to_have_count(1)
    context.close()


def test_the_history_and_who_answers_are_only_given_for_a_chat_session_porter_issued(porter):
    for path in ("/widget/history", "/widget/status"):
        forged = requests.post(f"{porter.web}{path}", json={"session": "web-abc.123.xyz"}, timeout=30)
        assert forged.status_code == 404 and set(forged.json()) == {"error"}
        assert requests.post(f"{porter.web}{path}", data="nonsense", timeout=30).status_code == 404
    issued = requests.post(f"{porter.web}/widget/session", json={"session": None}, timeout=30).json()["session"]
    status = requests.post(f"{porter.web}/widget/status", json={"session": issued}, timeout=30)
    assert status.json() == {"talking": "porter", "agent": None, "position": None}


def tab_to(page: Page, matches: str, presses: int = 25) -> None:
    """Presses Tab until the focused element matches the CSS selector ``matches``, as a keyboard user would."""
    for _ in range(presses):
        if page.evaluate("(selector) => document.activeElement && document.activeElement.matches(selector)", matches):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{matches} never took the keyboard focus")


def test_a_keyboard_only_shopper_on_a_phone_gets_a_refund_from_a_labelled_widget_with_no_console_error(
    porter, browser, undo_cases
):
    order_number = private_order(porter.env, "A10024")
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, has_touch=True)
    context.set_default_timeout(REPLY)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{porter.web}/")

    launcher = page.get_by_role("button", name="Open the chat")
    expect(launcher).to_be_visible()
    launcher_box = launcher.bounding_box()  # on a phone the open chat covers the page, launcher included
    tab_to(page, "button.rw-launcher")
    page.keyboard.press("Enter")
    porter_says(page, "Hi, I'm Porter")
    undo_cases.append(widget_session(page))
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("Hi, I'm Porter")
    tab_to(page, "textarea.rw-new-message")
    for text in ("my parcel never arrived", order_number, "james.miller@example.com"):
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        expect(page.locator(".rw-client").last).to_have_text(text)
    refund = page.get_by_role("button", name="Full refund")
    expect(refund).to_be_visible()

    # everything a finger taps is at least 44 px; the send button says what it does
    for box in (
        launcher_box,
        page.get_by_role("button", name="Send", exact=True).bounding_box(),
        refund.bounding_box(),
    ):
        assert box and box["width"] >= 44 and box["height"] >= 44, box

    tab_to(page, 'div.rw-reply[role="button"]')
    while "Full refund" not in page.evaluate("document.activeElement.textContent"):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    answer = page.locator(".rw-response").filter(has_text=re.compile(r"Done: I've refunded .*PC-")).first
    expect(answer).to_be_visible()
    reference = REFERENCE.search(answer.inner_text()).group(0)
    expect(answer.locator(".porter-ref")).to_have_text(reference)  # kept on one line
    assert answer.locator(".porter-ref").evaluate("node => getComputedStyle(node).whiteSpace") == "nowrap"
    shoot(page, "storefront-phone-keyboard.png")
    assert problems == []
    context.close()


def test_a_photo_is_kept_only_for_a_chat_session_porter_issued_and_only_when_it_is_an_image(porter):
    from tests.support.images import png

    url = f"{porter.web}/widget/photo"
    issued = requests.post(f"{porter.web}/widget/session", json={"session": None}, timeout=30).json()["session"]

    def send(session, name, data, kind="image/png"):
        return requests.post(url, data={"session": session}, files={"photo": (name, data, kind)}, timeout=30)

    kept = send(issued, "box.png", png())
    assert kept.status_code == 200 and len(kept.json()["token"]) >= 20
    assert send("web-abc.123.xyz", "box.png", png()).status_code == 404  # not a session Porter issued
    disguised = send(issued, "box.png", b"<svg onload=alert(1)></svg>")  # the name and type say PNG; the bytes do not
    assert disguised.status_code == 415 and "JPEG, PNG or WebP" in disguised.json()["error"]
    assert send(issued, "empty.png", b"").status_code == 400
    huge = send(issued, "huge.png", png() + b"\x00" * (6 * 1024 * 1024))
    assert huge.status_code == 413
    assert requests.post(url, json={"session": issued}, timeout=30).status_code == 415
