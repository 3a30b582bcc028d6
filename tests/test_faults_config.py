"""Faults of the configuration file (issue 14): concurrent writers, comments, symlinks, a missing
$GENAI_HARNESS_CONFIG, hostile nesting, wrong types; and which config files may run interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import assert_one_error_line, clean_env, cli_command, run_cli

from genai_harness.config import load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _model_folder(root: Path, name: str) -> Path:
    folder = root / "m" / name
    folder.mkdir(parents=True)
    (folder / "weights").write_text("x")
    return folder


def test_six_concurrent_models_add_all_survive_and_keep_comments(tmp_path: Path) -> None:
    config = tmp_path / "genai-harness.toml"
    config.write_text("# my models, do not lose this\n[models.kept]\ntask = \"text2text\"  # inline note\n"
                      "[models.kept.formats]\nfake = \"m/kept\"\n")
    _model_folder(tmp_path, "kept")
    folders = [_model_folder(tmp_path, f"m{i}") for i in range(6)]
    procs = [subprocess.Popen([*cli_command(), "--config", str(config), "models", "add", f"m{i}", "--task",
                               "text2text", "--format", "fake", "--path", str(folder)],
                              cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, folder in enumerate(folders)]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    data = tomllib.loads(config.read_text())
    assert sorted(data["models"]) == ["kept", *[f"m{i}" for i in range(6)]]
    text = config.read_text()
    assert "# my models, do not lose this" in text and "# inline note" in text
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_symlinked_config_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "genai-harness.toml"
    real.parent.mkdir()
    real.write_text("# shared\n")
    link = tmp_path / "genai-harness.toml"
    link.symlink_to(real)
    folder = _model_folder(tmp_path, "a")
    proc = run_cli("models", "add", "a", "--task", "text2text", "--format", "fake", "--path", folder, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and link.resolve() == real
    assert "[models.a" in real.read_text() and "# shared" in real.read_text()


def test_a_missing_config_from_the_environment_variable_is_an_error(tmp_path: Path) -> None:
    proc = run_cli("models", cwd=tmp_path, env=clean_env(GENAI_HARNESS_CONFIG=str(tmp_path / "nope.toml")))
    line = assert_one_error_line(proc, exit_code=2)
    assert "GENAI_HARNESS_CONFIG" in line and "does not exist" in line


def test_deeply_nested_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 20000 + "]" * 20000 + "\n")
    before = config.read_bytes()
    proc = run_cli("--config", config, "models", cwd=tmp_path)
    assert "nested too deeply" in assert_one_error_line(proc, exit_code=2)
    assert config.read_bytes() == before


def test_a_config_number_too_long_to_read_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "long.toml"
    config.write_text("[run]\nrepeats = " + "9" * 5000 + "\n")
    proc = run_cli("--config", config, "models", cwd=tmp_path)
    assert "number too long" in assert_one_error_line(proc, exit_code=2)


def test_envs_add_into_a_config_whose_environments_is_not_a_table(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("environments = 5\n")
    proc = run_cli("--config", config, "envs", "--add", f"x={sys.executable}", cwd=tmp_path)
    assert "environments = 5" in assert_one_error_line(proc, exit_code=2)
    assert config.read_text() == "environments = 5\n"


# ---- which config files may run interpreters ------------------------------------------------------------------------

def _marker_interpreter(tmp_path: Path) -> tuple[Path, Path]:
    """An 'interpreter' that leaves a marker file when anything runs it."""
    marker = tmp_path / "ran"
    script = tmp_path / "evil" / "bin" / "python"
    script.parent.mkdir(parents=True)
    script.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    script.chmod(0o755)
    return script, marker


def test_an_unapproved_config_in_the_working_folder_runs_nothing(tmp_path: Path) -> None:
    script, marker = _marker_interpreter(tmp_path)
    (tmp_path / "genai-harness.toml").write_text(f'[environments.evil]\npython = "{script}"\n')
    env = clean_env(GENAI_HARNESS_TRUST_FILE=str(tmp_path / "trusted.json"))
    proc = run_cli("devices", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), "an interpreter named by an unapproved config was run"
    warning = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(warning) == 1 and warning[0].startswith("genai-harness: warning: ") and "envs --allow" in warning[0]
    listing = run_cli("envs", cwd=tmp_path, env=env)
    assert "not approved" in listing.stdout and not marker.exists()

    allowed = run_cli("envs", "--allow", cwd=tmp_path, env=env)
    assert allowed.returncode == 0, allowed.stderr
    proc = run_cli("devices", "--json", cwd=tmp_path, env=env)
    assert marker.exists(), "an approved config's interpreter should run"

    marker.unlink()  # editing the interpreters asks for a new approval
    (tmp_path / "genai-harness.toml").write_text(f'[environments.evil2]\npython = "{script}"\n')
    proc = run_cli("devices", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0 and not marker.exists()


def test_a_config_owned_by_another_user_runs_nothing_even_when_named(tmp_path: Path) -> None:
    if os.getuid() != 0:
        import pytest

        pytest.skip("needs root to give a file to another user")
    script, marker = _marker_interpreter(tmp_path)
    config = tmp_path / "theirs.toml"
    config.write_text(f'[environments.evil]\npython = "{script}"\n')
    os.chown(config, 12345, 12345)
    proc = run_cli("--config", config, "devices", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert "owned by another user" in proc.stderr


def test_envs_add_approves_what_it_writes(tmp_path: Path) -> None:
    env = clean_env(GENAI_HARNESS_TRUST_FILE=str(tmp_path / "trusted.json"))
    proc = run_cli("envs", "--add", f"mine={sys.executable}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    listing = run_cli("envs", cwd=tmp_path, env=env)
    assert "not approved" not in listing.stdout and listing.stderr == ""
    assert load_config(tmp_path / "genai-harness.toml").section("environments")["mine"]["python"] == sys.executable


PAYLOAD = 'q"><img src=x onerror=document.title=1>'


def test_a_hand_written_model_key_follows_the_models_add_name_rule(tmp_path: Path) -> None:
    """A ``[models."..."]`` key holding markup is refused on load with one line, as ``models add`` refuses it."""
    folder = _model_folder(tmp_path, "payload")
    config = tmp_path / "genai-harness.toml"
    key = json.dumps(PAYLOAD)  # a JSON string of ASCII is a TOML basic string
    config.write_text(f'[models.{key}]\ntask = "text2text"\n[models.{key}.formats]\nfake = "{folder}"\n')
    data = tomllib.loads(config.read_text())
    assert PAYLOAD in data["models"]  # the file holds exactly that key
    for argv in (["models"], ["run", "--model", PAYLOAD, "--framework", "fake", "--store", str(tmp_path / "s.sqlite")]):
        line = assert_one_error_line(run_cli("--config", config, *argv, cwd=tmp_path), 2)
        assert "model id" in line and "rename or remove it" in line, line
    assert not (tmp_path / "s.sqlite").exists()
    clean = tmp_path / "clean.toml"
    clean.write_text("# mine\n")
    line = assert_one_error_line(run_cli("--config", clean, "models", "add", "a<b", "--task", "text2text", "--format",
                                         "fake", "--path", folder, cwd=tmp_path), 2)
    assert "angle brackets" in line
    assert clean.read_text() == "# mine\n"
