"""The child process only (no pandas): the request loop, the typed protocol, the inventory, a cell, a direct call,
an operator batch.

It runs in any Python environment that holds one runtime, started by :mod:`genai_harness.runner.launcher`
as ``python -m genai_harness.worker REQUEST.json RESPONSE.json``.
"""
