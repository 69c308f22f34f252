"""Porter's action server (``rasa run actions``): one module per concern."""
