"""Bad input: every case exits non-zero with one readable `genai-harness: error:` line and no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import assert_one_error_line, run_cli

from genai_harness.errors import UnknownFrameworkError
from genai_harness.factories import Text2TextPipelineFactory


def make_files(tmp: Path) -> dict[str, Path]:
    files = {
        "text": tmp / "notes.txt",
        "exec_text": tmp / "looks-runnable",
        "script": tmp / "fake-python",
        "broken_toml": tmp / "broken.toml",
        "not_utf8": tmp / "latin1.toml",
        "no_python_key": tmp / "no-python.toml",
        "python_not_string": tmp / "python-int.toml",
        "environments_not_table": tmp / "env-string.toml",
        "reserved_env": tmp / "reserved.toml",
    }
    files["text"].write_text("just some notes\n")
    files["exec_text"].write_text("just some notes, marked executable\n")
    files["exec_text"].chmod(0o755)
    files["script"].write_text("#!/bin/sh\necho 'hello, I am not Python'\n")
    files["script"].chmod(0o755)
    files["broken_toml"].write_text('[environments.x\npython = "oops"\n')
    files["not_utf8"].write_bytes(b'# caf\xe9\n[environments]\n')
    files["no_python_key"].write_text('[environments.x]\ninterpreter = "/usr/bin/python3"\n')
    files["python_not_string"].write_text("[environments.x]\npython = 3\n")
    files["environments_not_table"].write_text('environments = "ort-openvino"\n')
    files["reserved_env"].write_text(f'[environments.default]\npython = "{sys.executable}"\n')
    return files


CASES: dict[str, tuple[list[str], str]] = {
    # name: (arguments with {placeholders}, a fragment the message must contain)
    "python missing": (["--python", "x={tmp}/nope/bin/python", "devices"], "does not exist"),
    "python is a folder": (["--python", "x={tmp}", "devices"], "is a folder"),
    "python is a text file": (["--python", "x={text}", "devices"], "not a runnable Python"),
    "python is an executable text file": (["--python", "x={exec_text}", "devices"], "not a runnable Python"),
    "python is /bin/true": (["--python", "x=/bin/true", "devices"], "is not a Python interpreter"),
    "python is a script": (["--python", "x={script}", "devices"], "is not a Python interpreter"),
    "python bad name": (["--python", "bad name=/usr/bin/python3", "devices"], "must be letters"),
    "python reserved name": (["--python", "default={python}", "devices"], "reserved"),
    "config missing": (["--config", "{tmp}/missing.toml", "devices"], "does not exist"),
    "config is a folder": (["--config", "{tmp}", "devices"], "cannot read config file"),
    "config invalid TOML": (["--config", "{broken_toml}", "devices"], "is not valid TOML"),
    "config not UTF-8": (["--config", "{not_utf8}", "devices"], "cannot read config file"),
    "config env without python": (["--config", "{no_python_key}", "devices"], "[environments.x] needs python"),
    "config env without python (envs)": (["--config", "{no_python_key}", "envs"], "[environments.x] needs python"),
    "config python not a string": (["--config", "{python_not_string}", "devices"], "needs python"),
    "config environments not a table": (["--config", "{environments_not_table}", "devices"], "must be a table"),
    "config env named default": (["--config", "{reserved_env}", "devices"], "reserved"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_error_line(case, tmp_path):
    if any("/bin/true" in a for a in CASES[case][0]) and not Path("/bin/true").exists():
        pytest.skip("no /bin/true")
    files = make_files(tmp_path)
    values = {"tmp": str(tmp_path), "python": sys.executable, **{k: str(v) for k, v in files.items()}}
    args, fragment = CASES[case]
    proc = run_cli(*(a.format(**values) for a in args), cwd=tmp_path)
    line = assert_one_error_line(proc, exit_code=2)
    assert fragment in line, line


def test_unknown_framework_error_names_the_known_ones():
    """The Python API: the message a CLI user would also see (it is the exception's text)."""
    with pytest.raises(UnknownFrameworkError) as info:
        Text2TextPipelineFactory.create("onnxruntime-genai", "/models/x")  # dash instead of underscore
    message = str(info.value)
    assert message.startswith("unknown framework 'onnxruntime-genai'; known frameworks: ")
    assert "onnxruntime_genai" in message and "openvino.genai" in message
    assert "\n" not in message and info.value.exit_code == 2


def test_unknown_framework_through_the_cli(tmp_path):
    help_text = run_cli("--help").stdout
    if " generate " not in help_text and "generate," not in help_text:
        pytest.skip("this build has no `generate` command yet")
    proc = run_cli("generate", "--framework", "no.such.framework", "--model", tmp_path, "--prompt", "hi",
                   cwd=tmp_path)
    line = assert_one_error_line(proc, exit_code=2)
    assert "unknown framework 'no.such.framework'" in line and "onnxruntime_genai" in line
