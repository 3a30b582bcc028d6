"""py-cpuinfo's probe, remembered per CPU: the same answer as the probe, read back without probing, probed again
when the CPU (its signature) changes or the remembered file is unreadable."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import cpuinfo
import pytest

from genai_harness.host import cpu_probe
from genai_harness.host.cpu_probe import PROBE_FIELDS, cpu_signature, probe_cpu


def processor(index: int, mhz: str) -> str:
    """One logical CPU's block of an AMD EPYC's /proc/cpuinfo, at clock ``mhz``."""
    return (f"processor\t: {index}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
            f"model name\t: AMD EPYC 9R14\nstepping\t: 1\nmicrocode\t: 0xa101148\ncpu MHz\t\t: {mhz}\n"
            "flags\t\t: fpu sse2 avx2 avx512f\nbogomips\t: 5200.00\n")


X86 = processor(0, "2600.000") + "\n" + processor(1, "3700.123")


def test_the_signature_follows_the_cpu_not_its_clock() -> None:
    base = cpu_signature(X86, "x86_64")
    assert base is not None and len(base) == 16
    assert cpu_signature(X86.replace("3700.123", "1500.000"), "x86_64") == base  # the clock moves: the same CPU
    assert cpu_signature(X86.replace("avx512f", "avx512f avx512_bf16"), "x86_64") != base  # other flags
    assert cpu_signature(X86.replace("0xa101148", "0xa101150"), "x86_64") != base  # a microcode update
    assert cpu_signature(X86.split("\n\n")[0], "x86_64") != base  # one logical CPU, not two
    assert cpu_signature(X86, "aarch64") != base
    arm = "processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n"
    assert cpu_signature(arm, "aarch64") not in (None, base)
    assert cpu_signature("nothing here\n", "x86_64") is None


def test_the_probe_is_remembered_and_read_back_without_probing(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setenv("GENAI_HARNESS_CACHE", str(tmp_path))
    first = probe_cpu(platform.machine())
    real = cpuinfo.get_cpu_info()
    assert first == {field: real.get(field) for field in PROBE_FIELDS}  # py-cpuinfo's own answer
    assert len(list((tmp_path / "host").glob("cpuinfo-*.json"))) == 1

    def no_probe() -> dict:
        raise AssertionError("probed again")

    monkeypatch.setattr(cpuinfo, "get_cpu_info", no_probe)
    assert probe_cpu(platform.machine()) == first  # read back: no second process


def test_a_new_cpu_or_an_unreadable_file_is_probed_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GENAI_HARNESS_CACHE", str(tmp_path))
    proc = tmp_path / "cpuinfo"
    proc.write_text(X86)
    monkeypatch.setattr(cpu_probe, "PROC_CPUINFO", proc)
    probes: list[int] = []

    def fake_probe() -> dict:
        probes.append(1)
        return {"brand_raw": f"CPU {len(probes)}", "vendor_id_raw": "v", "arch": "X86_64", "bits": 64,
                "flags": ["sse2"], "hz_actual": "not kept"}

    monkeypatch.setattr(cpuinfo, "get_cpu_info", fake_probe)
    assert probe_cpu("x86_64")["brand_raw"] == "CPU 1" and probe_cpu("x86_64")["brand_raw"] == "CPU 1"
    proc.write_text(X86.replace("avx512f", "avx512f amx_tile"))  # another CPU: probed again
    assert probe_cpu("x86_64")["brand_raw"] == "CPU 2" and len(probes) == 2
    signature = cpu_signature(proc.read_text(), "x86_64")
    remembered = tmp_path / "host" / f"cpuinfo-{signature}.json"
    assert json.loads(remembered.read_text())["brand_raw"] == "CPU 2" and "hz_actual" not in remembered.read_text()
    remembered.write_text("{not json")  # a cut or foreign file: never trusted, probed and written again
    assert probe_cpu("x86_64")["brand_raw"] == "CPU 3" and json.loads(remembered.read_text())["brand_raw"] == "CPU 3"
    monkeypatch.setattr(cpu_probe, "PROC_CPUINFO", tmp_path / "absent")  # no /proc/cpuinfo: probed every time
    assert probe_cpu("x86_64")["brand_raw"] == "CPU 4" and probe_cpu("x86_64")["brand_raw"] == "CPU 5"


def test_a_cache_that_cannot_be_written_still_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "host").write_text("a file where the folder should be")  # unwritable, even for root
    monkeypatch.setenv("GENAI_HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(cpuinfo, "get_cpu_info", lambda: dict.fromkeys(PROBE_FIELDS, "x"))
    assert probe_cpu("x86_64") == dict.fromkeys(PROBE_FIELDS, "x")
    assert (tmp_path / "host").is_file()  # nothing written, nothing raised
