"""Handing a conversation to a person: tickets, agents, agents' hours."""
