"""The whole handoff loop in two browsers (Debian's Chromium driven by Playwright, launched as in
test_storefront.py): a shopper in the storefront widget asks for a person; an agent signs in to the desk,
claims the ticket, reads the summary and the conversation, replies; the reply shows in the shopper's widget;
the agent hands back and Porter answers the shopper again.

Needs /usr/bin/chromium, the widget bundle and the trained model, like tests/test_storefront.py.
"""

from __future__ import annotations

import re

import requests
from playwright.sync_api import Page, expect

from tests.support.desk import add_agent, private_order, wait_for_ticket
from tests.test_storefront import (
    REPLY,
    browser,  # noqa: F401 (a fixture)
    cases,
    new_shopper,
    open_chat,
    porter_says,
    say,
    shoot,
    widget_session,
)

XSS = "<script>window.pwned = 1; alert('xss')</script><img src=x onerror=\"window.pwned = 2\">"


def sign_in(page: Page, web: str, name: str, password: str) -> None:
    page.goto(f"{web}/desk")
    expect(page).to_have_url(re.compile(r"/desk/sign-in\?next=/desk$"))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in-agent")).to_have_text(name)


def summary_field(page: Page, field: str):
    return page.locator(f'#summary [data-field="{field}"] dd')


def test_an_agent_takes_over_from_the_widget_replies_and_hands_back_to_porter(porter, browser):  # noqa: F811
    name, password = add_agent(porter.env, "desk")

    # the shopper asks for a person in the storefront widget
    shopper = new_shopper(browser)
    shopper.goto(f"{porter.web}/")
    open_chat(shopper)
    porter_says(shopper, "Hi, I'm Porter")
    say(shopper, "my parcel never arrived")
    porter_says(shopper, "What is your order number?")
    say(shopper, "I want to talk to a human")
    ticket = wait_for_ticket(porter.env, widget_session(shopper))
    porter_says(shopper, ticket.case_reference)  # told a person takes over, with the case reference
    header = shopper.locator(".rw-header")
    expect(header.locator(".rw-title")).to_have_text("Waiting for a person")  # and the header says so, with
    expect(header.locator(".rw-title + span")).to_have_text(re.compile(r"^You're number \d+ in line$"))  # the place
    say(shopper, XSS)  # while waiting: Porter is silent, the agent will read it

    # the agent signs in, finds the ticket in the queue and claims it
    agent = browser.new_context(viewport={"width": 1400, "height": 1300})
    agent.set_default_timeout(REPLY)
    desk = agent.new_page()
    dialogs: list[str] = []
    desk.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(desk, porter.web, name, password)
    row = desk.locator(f'#waiting tr[data-ticket-id="{ticket.id}"]')
    for shown in ("English", "Parcel not received", "Storefront chat", "not verified"):
        expect(row).to_contain_text(shown)
    shoot(desk, "desk-queue.png")
    row.get_by_role("button", name="Claim").click()
    expect(desk).to_have_url(f"{porter.web}/desk/tickets/{ticket.id}")
    expect(desk.locator("#status")).to_have_text("claimed")
    porter_says(shopper, f"{name} from the shop's team has joined the conversation.")  # who answers now
    expect(header.locator(".rw-title")).to_have_text(name)
    expect(header.locator(".rw-title + span")).to_have_text("From the shop's team")
    expect(shopper.locator("#porter-chat-status")).to_have_text(f"{name}. From the shop's team")

    # the summary and the whole conversation, the shopper's script shown as text
    expect(summary_field(desk, "Language")).to_have_text("English")
    expect(summary_field(desk, "Problem")).to_have_text("Parcel not received")
    expect(summary_field(desk, "Order")).to_have_text("not verified")
    expect(summary_field(desk, "Case")).to_have_text(ticket.case_reference)
    expect(summary_field(desk, "Channel")).to_have_text("Storefront chat")
    expect(summary_field(desk, "Agent")).to_have_text(name)
    timeline = desk.locator("#timeline")
    for shown in (
        "Hi, I'm Porter",
        "my parcel never arrived",
        "What is your order number?",
        "I want to talk to a human",
        ticket.case_reference,
    ):
        expect(timeline).to_contain_text(shown)
    expect(timeline.locator(".message.shopper .message-text").last).to_have_text(XSS)
    expect(timeline.locator("img, script")).to_have_count(0)
    assert desk.evaluate("window.pwned") is None and dialogs == []

    # a canned reply in the shopper's language, sent to the widget
    desk.get_by_role("button", name="Introduce yourself").click()
    expect(desk.locator("#reply-text")).to_have_value(re.compile(rf"^Hi, this is {re.escape(name)} from the shop"))
    desk.get_by_role("button", name="Send reply").click()
    expect(timeline.locator(".message.agent")).to_contain_text(f"Hi, this is {name} from the shop")
    expect(desk.locator("#reply-text")).to_have_value("")
    porter_says(shopper, f"Hi, this is {name} from the shop's customer team")

    # the shopper answers; the desk shows it without a reload; a note stays among agents
    say(shopper, "Thank you, I'll wait for you")
    expect(timeline.locator(".message.shopper").last).to_have_text(re.compile("Thank you, I'll wait for you"))
    desk.get_by_text("Internal note (agents only)").click()  # folded away under the composer
    desk.locator("#note-text").fill("Shopper is patient; carrier claim next.")
    desk.get_by_role("button", name="Add note").click()
    expect(timeline.locator(".message.note")).to_contain_text("Shopper is patient; carrier claim next.")
    shoot(desk, "desk-ticket.png")

    # hand back: Porter answers the shopper's next message again
    desk.get_by_role("button", name="Hand back to Porter").click()
    expect(desk.locator("#status")).to_have_text("handed back to Porter")
    expect(desk.get_by_role("button", name="Send reply")).to_be_disabled()
    porter_says(shopper, "You're back with Porter, the shop's assistant.")
    expect(header.locator(".rw-title")).to_have_text("Porter")
    say(shopper, "where is my order")
    expect(shopper.locator(".rw-response", has_text="What is your order number?")).to_have_count(2)
    expect(shopper.locator("#rw-messages")).not_to_contain_text("Shopper is patient")
    shoot(shopper, "desk-shopper-widget.png")

    # the queue no longer lists it
    desk.goto(f"{porter.web}/desk")
    expect(desk.locator("#waiting-count")).to_have_text(re.compile(r"\(\d+\)"))
    expect(desk.locator(f'tr[data-ticket-id="{ticket.id}"]')).to_have_count(0)
    assert dialogs == []
    agent.close()
    shopper.context.close()


def test_an_agent_sees_the_earlier_refund_cannot_pay_twice_and_gives_a_discount(porter, browser):  # noqa: F811
    name, password = add_agent(porter.env, "refunds")
    order_number = private_order(porter.env, "A10024")

    # the shopper is refunded by Porter in the widget, then asks for a person
    shopper = new_shopper(browser)
    shopper.goto(f"{porter.web}/")
    open_chat(shopper)
    porter_says(shopper, "Hi, I'm Porter")
    say(shopper, "my parcel never arrived")
    porter_says(shopper, "What is your order number?")
    say(shopper, order_number)
    porter_says(shopper, "the email address you used")
    say(shopper, "james.miller@example.com")
    shopper.locator(".rw-reply", has_text="Full refund").click()
    answer = shopper.locator(".rw-response").filter(has_text=re.compile(r"Done: I've refunded .*PC-"))
    expect(answer.first).to_be_visible()
    refund = re.search(r"PC-[A-Z0-9]{6}", answer.first.inner_text()).group(0)
    say(shopper, "I want to talk to a human")
    ticket = wait_for_ticket(porter.env, widget_session(shopper))

    # the agent, on a laptop screen: the order and its refund beside the conversation, the composer in view
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    agent.set_default_timeout(REPLY)
    desk = agent.new_page()
    sign_in(desk, porter.web, name, password)
    desk.goto(f"{porter.web}/desk/tickets/{ticket.id}")
    desk.get_by_role("button", name="Claim this conversation").click()
    expect(desk.locator("#status")).to_have_text("claimed")
    expect(desk.locator("#order-number")).to_have_text(order_number)
    expect(desk.locator("#order-total")).to_have_text("$36.50")
    expect(desk.locator("#order-shipment")).to_contain_text("YunExpress")
    earlier = desk.locator(f'#cases [data-reference="{refund}"]')
    expect(earlier).to_contain_text("Refund")
    expect(earlier).to_contain_text("by Porter")
    for control in ("Send reply", "Hand back to Porter", "Resolve"):
        expect(desk.get_by_role("button", name=control, exact=True)).to_be_in_viewport()

    # a second refund is asked once, then refused with what was done before; no money moves
    desk.get_by_role("button", name=re.compile(r"^Refund in full")).click()
    expect(desk.locator("#fix-question")).to_have_text("Refund in full ($36.50)?")
    desk.get_by_role("button", name="Yes, do it").click()
    refused = f"Already done for order {order_number}: refund of $36.50 {refund} by Porter"
    expect(desk.locator("#desk-error")).to_contain_text(refused)
    expect(desk.locator("#fix-confirm")).to_be_hidden()
    assert [c["type"] for c in cases(porter) if c["order_number"] == order_number].count("refund") == 1

    # a discount code goes out in the agent's name and reaches the shopper's widget
    desk.get_by_role("button", name=re.compile(r"^Discount code")).click()
    desk.get_by_role("button", name="Yes, do it").click()
    expect(desk.locator("#desk-done")).to_contain_text("Done: case PC-")
    [discount] = [c for c in cases(porter) if c["order_number"] == order_number and c["type"] == "discount"]
    expect(desk.locator(f'#cases [data-reference="{discount["reference"]}"]')).to_contain_text(f"by {name}")
    porter_says(shopper, discount["details"]["code"])
    shoot(desk, "desk-order-and-fixes.png")

    # resolving is asked once and confirmed
    desk.get_by_role("button", name="Resolve", exact=True).click()
    desk.get_by_role("button", name="Yes, resolve").click()
    expect(desk.locator("#desk-done")).to_have_text("Resolved. The shopper is back with Porter and has been told.")
    expect(desk.locator("#status")).to_have_text("resolved")
    porter_says(shopper, "You're back with Porter, the shop's assistant.")

    # later, the shopper writes in about the refund: the agent finds the closed ticket by its reference
    desk.goto(f"{porter.web}/desk")
    expect(desk.locator(f'#closed [data-ticket-id="{ticket.id}"]')).to_contain_text("resolved")
    desk.get_by_label("Find a ticket").fill(refund)
    desk.get_by_label("Find a ticket").press("Enter")
    expect(desk.locator("#search-summary")).to_have_text(f"1 ticket for “{refund}”")
    expect(desk.locator(f'#found [data-ticket-id="{ticket.id}"]')).to_contain_text("resolved · English")
    shoot(desk, "desk-search.png")
    desk.locator(f'#found [data-ticket-id="{ticket.id}"] a').click()
    expect(desk).to_have_url(f"{porter.web}/desk/tickets/{ticket.id}")
    agent.close()
    shopper.context.close()


def test_a_photo_sent_in_the_widget_reaches_the_case_and_only_the_agent_sees_it(porter, browser):  # noqa: F811
    from tests.support.images import png

    name, password = add_agent(porter.env, "photos")
    order_number = private_order(porter.env, "A10025")  # delivered; the shopper says it arrived broken
    shopper = new_shopper(browser)
    shopper.goto(f"{porter.web}/")
    open_chat(shopper)
    porter_says(shopper, "Hi, I'm Porter")
    say(shopper, "hi, my mug set arrived broken")
    porter_says(shopper, "What is your order number?")
    say(shopper, order_number)
    porter_says(shopper, "the email address you used")
    say(shopper, "olivia.brown@example.co.uk")
    porter_says(shopper, "Could you send me a photo of the item")

    # a file that is not an image is refused in the shopper's language, before anything is sent
    photo_button = shopper.get_by_role("button", name="Send a photo")
    expect(photo_button).to_be_visible()
    shopper.locator("input.porter-photo-file").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}
    )
    expect(shopper.locator("#porter-photo-problem")).to_have_text("Please send a JPEG, PNG or WebP photo.")
    shopper.locator("input.porter-photo-file").set_input_files(
        {"name": "broken-mug.png", "mimeType": "image/png", "buffer": png(40, 30)}
    )
    expect(shopper.locator(".rw-client").last).to_have_text("📷 Photo")
    expect(shopper.locator("#porter-photo-problem")).to_be_hidden()
    replace = shopper.locator(".rw-reply", has_text=re.compile("new one", re.IGNORECASE)).first
    expect(replace).to_be_visible()  # the photo answered Porter's question: the fixes follow
    replace.click()
    porter_says(shopper, re.compile(r"PC-[A-Z0-9]{6}"))
    [case] = [c for c in cases(porter) if c["order_number"] == order_number and c["type"] == "reshipment"]
    assert case["details"]["photo"].startswith("widget:")
    token = case["details"]["photo"].split(":", 1)[1]

    # the photo is the agent's to see, not anyone's who has its address
    say(shopper, "I want to talk to a human")
    ticket = wait_for_ticket(porter.env, widget_session(shopper))
    assert requests.get(f"{porter.web}/desk/api/photos/{token}", timeout=30).status_code == 401
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    agent.set_default_timeout(REPLY)
    desk = agent.new_page()
    sign_in(desk, porter.web, name, password)
    desk.goto(f"{porter.web}/desk/tickets/{ticket.id}")
    photo = desk.get_by_role("img", name=re.compile("Photo 1 from the shopper"))
    expect(photo).to_be_visible()
    assert photo.evaluate("image => image.naturalWidth") == 40
    shoot(desk, "desk-photo.png")
    agent.close()
    shopper.context.close()
