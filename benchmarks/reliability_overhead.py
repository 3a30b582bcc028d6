"""What the reliability guarantees cost (issue 14), measured side by side in one process, interleaved.

- run start: ``ResultStore.check_writable()`` + ``record_plan()`` of a suite's cells, against opening the
  store alone (what a run paid before);
- a config write: the locked, comment-keeping ``HarnessConfig.update`` against a plain unlocked
  ``tomli_w`` dump + rename of the same content (what ``models add`` paid before);
- the SIGTERM/SIGHUP handlers: entering and leaving ``signals_interrupt()``.

Usage: ``.venv/bin/python benchmarks/reliability_overhead.py [--rounds 30] [--cells 40]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import tomli_w

from genai_harness.config import load_config
from genai_harness.results.store import ResultStore
from genai_harness.runner.signals import signals_interrupt


def timed_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    action()
    return (time.perf_counter_ns() - start) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cells", type=int, default=40, help="cells in the recorded plan")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="genai-harness-bench-"))
    store_path = folder / "s.sqlite"
    ResultStore(store_path)
    labels = [f"onnxruntime CPU | w{i} | tiny-llm" for i in range(args.cells)]
    config_path = folder / "genai-harness.toml"
    plain_path = folder / "plain.toml"
    config_path.write_text("# comment\n[models.a]\ntask = \"text2text\"\n[models.a.formats]\nfake = \"/m\"\n")
    data = load_config(config_path).data

    def plain_write() -> None:
        tmp = plain_path.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps(data))
        tmp.replace(plain_path)

    def locked_write() -> None:
        load_config(config_path).update(lambda doc: doc.__setitem__("x", 1))

    def signals() -> None:
        with signals_interrupt():
            pass

    results: dict[str, list[float]] = {k: [] for k in ("open store", "open + check + plan", "plain config write",
                                                      "locked config write", "signal handlers")}
    for round_index in range(args.rounds):
        results["open store"].append(timed_ms(lambda: ResultStore(store_path)))
        results["open + check + plan"].append(timed_ms(lambda i=round_index: (
            (s := ResultStore(store_path)).check_writable(), s.record_plan(f"run{i}", labels))))
        results["plain config write"].append(timed_ms(plain_write))
        results["locked config write"].append(timed_ms(locked_write))
        results["signal handlers"].append(timed_ms(signals))
    print(f"{args.rounds} interleaved rounds, plan of {args.cells} cells, pid {os.getpid()}")
    print("| step | median ms | p90 ms |")
    print("| --- | --- | --- |")
    for name, values in results.items():
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
        print(f"| {name} | {statistics.median(values):.3f} | {p90:.3f} |")


if __name__ == "__main__":
    main()
