"""Facts about this machine: CPU identity, the fingerprint stored with every row, and energy counters."""
