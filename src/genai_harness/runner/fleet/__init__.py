"""The fleet: cells scheduled across machines with Ray (optional extra ``genai-harness[fleet]``).

Each machine runs ``genai-harness node``: a Ray node advertising its usable devices as custom resources,
one unit each (:func:`~genai_harness.runner.fleet.resources.device_resource`). ``run --ray ADDRESS`` submits every
cell as a Ray task needing its device's resource, so a device runs one cell at a time on the machine that
has it; the task runs the cell in that machine's worker subprocess and writes the rows, with that
machine's own fingerprint, to the shared store.
"""
