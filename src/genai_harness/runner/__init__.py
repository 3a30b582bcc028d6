"""The parent side of a benchmark run: prepare (the one way), environments, inventory, plan, the cell loop,
the worker launcher, progress, signals, and the fleet (:mod:`genai_harness.runner.fleet`).

Named ``runner`` rather than ``run`` so that the public function :func:`genai_harness.run` is never
shadowed by a subpackage of the same name once it is imported.
"""
