"""The package imports cheaply: no runtime is loaded by `import genai_harness`; the CLI is installed."""

from __future__ import annotations

import json

from support import RUNTIME_MODULES, cli_command, run_cli, run_python

import genai_harness
from genai_harness.errors import EXIT_CODES


def test_all_is_sorted_and_complete():
    assert genai_harness.__all__ == sorted(genai_harness.__all__)
    for name in genai_harness.__all__:
        assert hasattr(genai_harness, name), name
    assert genai_harness.__version__


def test_import_loads_no_runtime():
    code = (
        "import json, sys, genai_harness\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert "genai_harness" in loaded
    for runtime in RUNTIME_MODULES:
        assert runtime not in loaded, f"`import genai_harness` imported {runtime}"
    # Backend modules are plugins, imported on first use only.
    assert not {m for m in loaded if m.startswith("genai_harness.backends.")}


def test_console_command_exists_and_documents_exit_codes():
    command = cli_command()
    assert command[0].endswith("genai-harness"), f"console script not installed next to the interpreter: {command}"
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    assert "devices" in proc.stdout and "envs" in proc.stdout
    help_text = " ".join(proc.stdout.split())  # argparse wraps the epilog
    for name, code in EXIT_CODES.items():
        assert f"{code} {name}" in help_text
