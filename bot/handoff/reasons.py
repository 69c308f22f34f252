"""Why a conversation went to a person: the codes stored on tickets and cases, and the desk's name for each.

Every module that hands over names its reason from here, so the desk can explain each ticket and a new reason
is added in one place. A fix the shopper asked for that no rule covers hands over with the situation's own code
(``bot.decisions.situations``), which the desk names from its situation labels.
"""

from __future__ import annotations

SHOPPER_ASKED = "shopper_asked"  # "I want to talk to a human"
UPSET = "upset"  # strong anger in the wording (bot/handoff/anger.py)
NOT_UNDERSTOOD = "not_understood"  # two messages in a row Porter could not understand
VERIFICATION_FAILED = "verification_failed"  # three wrong emails for one order
REPEAT_CONTACT = "repeat_contact"  # the same order raised on several days
CUSTOMS_STUCK = "customs_stuck"  # held at customs longer than the policy waits
BACKEND_DOWN = "backend_down"  # the order system or tracking service did not answer in time
FIX_REFUSED = "fix_refused"  # a chosen fix cannot be granted now
ACTION_FAILED = "action_failed"  # an action raised an error
FIX_DID_NOT_WORK = "fix_did_not_work"  # the follow-up's "no": the refund or the new parcel did not arrive

LABELS = {
    SHOPPER_ASKED: "The shopper asked for a person",
    UPSET: "Strong anger in the wording",
    NOT_UNDERSTOOD: "Porter did not understand twice",
    VERIFICATION_FAILED: "Three wrong emails",
    REPEAT_CONTACT: "Same order raised on several days",
    CUSTOMS_STUCK: "Held at customs too long",
    BACKEND_DOWN: "Order system or tracking service down",
    FIX_REFUSED: "A fix was refused: not verified now, not offered, or no longer allowed",
    ACTION_FAILED: "Porter hit an error (see the action server's log)",
    FIX_DID_NOT_WORK: "Follow-up: the refund or the new parcel did not arrive",
}
