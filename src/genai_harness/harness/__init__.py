"""The harness: environments, workers, runner, metrics, statistics, fingerprint, dispatcher."""
