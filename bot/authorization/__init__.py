"""What the action server itself recorded about a conversation, so that nothing a request claims (slot
values, events, metadata) can stand in for it: which orders the conversation proved it owns, and which fixes
Porter offered it. Anything that moves money or goods, or reads an order, checks these first
(actions/authorization.py)."""
