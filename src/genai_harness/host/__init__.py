"""Facts about this machine: CPU identity, the fingerprint stored with every row, energy counters, peak memory."""
