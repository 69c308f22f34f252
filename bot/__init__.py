"""Porter: a multilingual after-sales assistant for cross-border shops, built on Rasa."""
