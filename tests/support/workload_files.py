"""Small real workload and suite files that tests write into their temporary folders."""

from __future__ import annotations

from pathlib import Path


def text_suite(folder: Path, *, repetitions: int = 10, model: str = "tiny-llm") -> Path:
    """A one-entry suite: a 32-token prompt, 16 forced tokens, ``repetitions`` after 2 warm-ups."""
    workload = folder / "text-p32-g16.toml"
    workload.write_text(f'id = "text-p32-g16"\nversion = 1\ntask = "text2text"\n[input]\nprompt_tokens = 32\n'
                        f'new_tokens = 16\n[run]\nwarmup = 2\nrepetitions = {repetitions}\ntimeout_s = 120\n')
    suite = folder / "suite.toml"
    suite.write_text(f'id = "small"\n[[entries]]\nworkload = "{workload}"\nmodels = ["{model}"]\n')
    return suite
