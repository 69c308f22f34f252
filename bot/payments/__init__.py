"""Paying refunds back through the order system exactly once, and telling the truth about where they stand.

``settle`` makes one attempt on a payment case (reconciling first when an earlier attempt may have paid it);
the chat calls it when a shopper chooses a refund or asks again, and ``python -m bot payments retry`` calls it
for every case whose money has not gone out (``worker``), on the schedule of ``schedule``. The states
themselves are ``bot.decisions.cases``'s.
"""
