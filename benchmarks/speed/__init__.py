"""`make bench`: Porter beside a bare `rasa init` bot, driven the same way over the REST channel (issue 13).

A benchmark, not a test: it prints numbers (latency, throughput, Rasa's CPU per message, resident memory) and
their ratios, and asserts nothing.
"""
