"""The child process only (no pandas): the request loop, the typed protocol, the inventory, a cell (and its cold
start: compiled-model caches, loads in fresh processes), a direct call, an operator batch.

It runs in any Python environment that holds one runtime, started by :mod:`genai_harness.runner.launcher`
as ``python -m genai_harness.worker REQUEST.json RESPONSE.json``.
"""
