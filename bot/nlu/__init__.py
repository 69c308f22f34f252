"""Custom Rasa NLU components: language detection, multilingual tokenization, identifier extraction."""
