"""Backends: one module per runtime, found through the ``genai_harness.backends`` entry points."""
