"""The regression gate: ``compare`` of stored runs (the run-to-run noise pooled over cells: ``noise``), its
rendering, interleaved A/B jobs, and the pytest plugin."""
