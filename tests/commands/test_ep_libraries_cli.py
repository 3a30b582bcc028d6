"""`[ep_libraries]` through the real CLI: bad libraries are one line each in the runtime's words, an unapproved
config loads none, a library that crashes the process that registers it hides no other device, and every
other target still runs.

The libraries are real files given to the real onnxruntime: a path that does not exist, a folder, a text file,
onnxruntime's own shared library (no plugin entry point), and small plugins compiled here with the system C
compiler: one whose ``CreateEpFactories`` refuses in onnxruntime's status API (as a library built for another
onnxruntime does when it asks for an API version this one lacks), one that crashes doing so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import onnxruntime
import pytest
from support import clean_env, run_cli

ORT_SHARED = Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime_providers_shared.so"

# OrtApiBase is {GetApi(version), GetVersionString()}; OrtApi's first member is CreateStatus(code, message).
PLUGIN_C = r"""
#include <stddef.h>
#include <stdint.h>
typedef struct OrtStatus OrtStatus;
typedef OrtStatus* (*CreateStatusFn)(int code, const char* message);
typedef struct { CreateStatusFn CreateStatus; } OrtApiHead;
typedef struct { const OrtApiHead* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); } OrtApiBase;
OrtStatus* CreateEpFactories(const char* name, const OrtApiBase* base, const void* logger, void** factories,
                             size_t max_factories, size_t* num_factories) {
  const OrtApiHead* wanted = base->GetApi(999);  /* an API version from a future onnxruntime */
#ifdef CRASH
  return wanted->CreateStatus(1, "unreachable");  /* what a careless plugin does: NULL dereferenced */
#else
  if (wanted == NULL)
    return base->GetApi(1)->CreateStatus(1, "acme plugin needs onnxruntime API 999");
  *num_factories = 0;
  return NULL;
#endif
}
OrtStatus* ReleaseEpFactory(void* factory) { return NULL; }
"""


def compile_plugin(folder: Path, name: str, *defines: str) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the test plugins")
    source = folder / f"{name}.c"
    source.write_text(PLUGIN_C)
    out = folder / f"lib{name}.so"
    subprocess.run([compiler, "-shared", "-fPIC", *defines, "-o", str(out), str(source)], check=True, timeout=60)
    return out


def listing(config: Path, *extra: str, cwd: Path) -> tuple[dict[str, Any], str]:
    proc = run_cli("--config", config, "devices", "--json", *extra, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lib["name"]: lib for lib in data["ep_libraries"] if lib["environment"] == "default"}


@pytest.fixture(scope="module")
def bad_libraries(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("eplibs")
    (folder / "notlib.so").write_text("this is not a shared library, only text that says so\n" * 4)
    refusing = compile_plugin(folder, "acme_refuses")
    config = folder / "genai-harness.toml"
    config.write_text(f'[ep_libraries]\nmissing = "/nope/libmissing_ep.so"\nfolder = "."\ntext = "notlib.so"\n'
                      f'noentry = "{ORT_SHARED}"\nrefuses = "{refusing}"\n')
    data, stderr = listing(config, cwd=folder)
    return config, data, stderr


@pytest.mark.parametrize(("name", "words"), [
    ("missing", "/nope/libmissing_ep.so does not exist"),
    ("folder", "is a folder, not a shared library"),
    ("text", "invalid ELF header"),
    ("noentry", "undefined symbol: CreateEpFactories"),
    ("refuses", "acme plugin needs onnxruntime API 999"),
])
def test_each_bad_library_is_one_line_naming_it_and_the_runtimes_words(bad_libraries, name: str, words: str) -> None:
    _config, data, stderr = bad_libraries
    lib = by_name(data)[name]
    assert lib["source"] == "config" and lib["registered"] is False and lib["devices"] == []
    reason = lib["reason"]
    assert words in reason and "\n" not in reason, reason
    assert name in reason and "[ep_libraries]" in reason  # names the library and where to fix it
    assert stderr == ""


def test_bad_libraries_hide_no_other_device(bad_libraries) -> None:
    _config, data, _stderr = bad_libraries
    default = next(e for e in data["environments"] if e["environment"] == "default")
    usable = {(d["framework"], d["label"]) for d in default["devices"] if d["available"]}
    assert {("onnxruntime", "CPU"), ("onnxruntime_genai", "CPU"), ("openvino.genai", "CPU")} <= usable
    assert "onnxruntime-ep-openvino" in by_name(data)  # the installed package is still listed beside them


def test_a_run_with_bad_libraries_configured_still_runs_every_other_target(bad_libraries, tmp_path: Path) -> None:
    config, _data, _stderr = bad_libraries
    workload = tmp_path / "c.toml"
    workload.write_text('id = "c"\nversion = 1\ntask = "classification"\n[input]\nbatch_size = 1\n'
                        '[run]\nwarmup = 1\nrepetitions = 2\ntimeout_s = 120\n')
    suite = tmp_path / "suite.toml"
    suite.write_text(f'id = "s"\n[[entries]]\nworkload = "{workload}"\nmodels = ["squeezenet"]\n')
    proc = run_cli("--config", config, "run", "--suite", suite, "--framework", "onnxruntime", "--device", "CPU",
                   "--store", tmp_path / "s.sqlite", "--json", "--quiet", cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 2 and all(r["status"] == "ok" and r["device"] == "CPU" for r in rows)
    assert all(r["ep_library"] is None and "ep_library" not in json.loads(r["device_options"]) for r in rows)


def test_a_library_that_crashes_registration_is_reported_and_the_environment_listed_without_it(
        tmp_path: Path) -> None:
    crashing = compile_plugin(tmp_path, "acme_crashes", "-DCRASH")
    config = tmp_path / "genai-harness.toml"
    config.write_text(f'[ep_libraries]\ncrashes = "{crashing}"\n')
    data, _stderr = listing(config, cwd=tmp_path)
    default = next(e for e in data["environments"] if e["environment"] == "default")
    assert default["error"] == ""
    assert any(d["label"] == "CPU" and d["available"] for d in default["devices"])
    (entry,) = default["ep_libraries"]
    assert "broke device enumeration" in entry["reason"] and "GENAI_HARNESS_EP_LIBRARIES=off" in entry["reason"]


def test_an_unapproved_config_loads_no_library_until_allowed(tmp_path: Path) -> None:
    trust = tmp_path / "trusted.json"
    (tmp_path / "genai-harness.toml").write_text(f'[ep_libraries]\nnoentry = "{ORT_SHARED}"\n')
    env = clean_env(GENAI_HARNESS_TRUST_FILE=str(trust))
    proc = run_cli("devices", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "noentry" not in by_name(json.loads(proc.stdout))
    (warning,) = proc.stderr.strip().splitlines()
    assert "names EP libraries that were not approved" in warning and "envs --allow" in warning
    allow = run_cli("envs", "--allow", cwd=tmp_path, env=env)
    assert allow.returncode == 0, allow.stderr
    assert "ep_libraries: noentry" in allow.stdout
    proc = run_cli("devices", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "undefined symbol: CreateEpFactories" in by_name(json.loads(proc.stdout))["noentry"]["reason"]
