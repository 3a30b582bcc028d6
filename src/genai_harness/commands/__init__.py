"""Handlers of the ``genai-harness`` subcommands (the parser lives in :mod:`genai_harness.cli`)."""
