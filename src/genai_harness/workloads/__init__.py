"""Workloads: workload and suite files, the model catalog and formats, bundled models, prompts, operators/."""
