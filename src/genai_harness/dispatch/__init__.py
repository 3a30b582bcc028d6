"""The auto-dispatcher: ranking measured targets, opening a pipeline with fallback, the probe, the decision cache."""
