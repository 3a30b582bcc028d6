"""The regression gate: ``compare`` of stored runs, its rendering, interleaved A/B jobs, and the pytest plugin."""
