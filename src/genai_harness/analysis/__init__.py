"""Pure functions over result frames: statistics, the metric table, target and cell keys, summaries, coverage.

Importing this package imports no pandas; the modules that work on frames import it themselves.
"""
