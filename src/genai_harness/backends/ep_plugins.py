"""Plugin EP libraries registered into onnxruntime and onnxruntime-genai, and what each offers.

A library found by :mod:`genai_harness.host.ep_libraries` is registered once per process under its name
(``onnxruntime.register_execution_provider_library``; ``onnxruntime_genai.register_execution_provider_library``
for onnxruntime-genai, which loads its own copy of onnxruntime). The devices it offers are those
``onnxruntime.get_ep_devices()`` lists after its registration and did not list before. A library that
registers and offers nothing is a finding with its reason; one that does not register is reported in
onnxruntime's own words. Neither stops any other target.

Naming: a device offered by a plugin is the target ``KIND:SHORT-plugin`` (``CPU:OpenVINO-plugin``,
``NPU:QNN-plugin``; ``CPU:OpenVINO.AUTO-plugin`` for the OpenVINO plugin's AUTO factory), where SHORT is the
EP's short name. The same EP compiled into an onnxruntime build keeps ``KIND:SHORT`` (``CPU:OpenVINO`` in an
``onnxruntime-openvino`` environment), so the two never share a label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genai_harness.backends.base import first_line
from genai_harness.backends.ort_providers import EP_KINDS, ep_device_key
from genai_harness.host.ep_libraries import EpLibrary, libraries

PLUGIN_SUFFIX = "-plugin"
"""Appended to the EP's short name in the label of every device a plugin library offers."""
FALLBACK_OFF = "session.disable_cpu_ep_fallback"
"""onnxruntime session config key: a node the EP cannot take fails the session instead of running on the CPU EP."""


@dataclass
class Registration:
    """One library's registration into this process's onnxruntime: the devices it offers, or why none."""

    library: EpLibrary
    onnxruntime_version: str = ""
    registered: bool = False
    error: str = ""
    devices: list[Any] = field(default_factory=list)
    """The live ``OrtEpDevice`` objects the library added."""
    hardware: list[str] = field(default_factory=list)
    """The hardware onnxruntime sees here, as the reason for an empty offer names it."""

    @property
    def reason(self) -> str:
        """Why the library offers no device ("" when it offers some)."""
        if self.error:
            return self.error
        if self.devices:
            return ""
        return (f"{self.library.described} registered into onnxruntime {self.onnxruntime_version} but offers no "
                f"device: its factories accepted none of the hardware onnxruntime sees here "
                f"({'; '.join(self.hardware) or 'none'}); a vendor's EP offers only devices it supports")

    def to_dict(self) -> dict[str, Any]:
        """The library as ``genai-harness devices --json`` lists it."""
        offered = [describe_ep_device(d, self.library) for d in self.devices]
        ep_names = list(dict.fromkeys([*self.library.ep_names, *(d["ep_name"] for d in offered)]))
        return {**self.library.to_dict(), "ep_names": ep_names, "onnxruntime": self.onnxruntime_version,
                "registered": self.registered, "devices": offered, "reason": self.reason}


_ort_registrations: dict[str, Registration] = {}
_genai_registrations: dict[str, str] = {}


def short_name(ep_name: str) -> str:
    """``OpenVINO`` for ``OpenVINOExecutionProvider``, ``OpenVINO.AUTO`` for ``OpenVINOExecutionProvider.AUTO``."""
    base, dot, rest = ep_name.partition(".")
    short = EP_KINDS[base][1] if base in EP_KINDS and EP_KINDS[base][1] else base.removesuffix("ExecutionProvider")
    return f"{short}{dot}{rest}"


def plugin_label_suffix(ep_name: str) -> str:
    """The label suffix of a device a plugin offers for ``ep_name`` (``OpenVINO-plugin``)."""
    return short_name(ep_name) + PLUGIN_SUFFIX


def hardware_kind(ep_device: Any) -> str:
    """``CPU``, ``GPU`` or ``NPU`` of an ``OrtEpDevice``."""
    return str(ep_device.device.type).rsplit(".", 1)[-1]


def describe_ep_device(ep_device: Any, library: EpLibrary) -> dict[str, Any]:
    """An offered device with its metadata, JSON-ready, with the target label it gets."""
    hw = ep_device.device
    return {"label": f"{hardware_kind(ep_device)}:{plugin_label_suffix(ep_device.ep_name)}",
            "ep_name": str(ep_device.ep_name), "ep_vendor": str(ep_device.ep_vendor),
            "type": hardware_kind(ep_device), "vendor": str(hw.vendor), "vendor_id": int(hw.vendor_id),
            "device_id": int(hw.device_id), "ep_metadata": dict(ep_device.ep_metadata or {}),
            "ep_options": dict(ep_device.ep_options or {}), "hardware_metadata": dict(hw.metadata or {}),
            "library": library.name}


def register_all(ort: Any) -> list[Registration]:
    """Register every library this process uses into ``ort`` (once each); their registrations, in order."""
    return [register(ort, library) for library in libraries()]


def register(ort: Any, library: EpLibrary) -> Registration:
    """Register ``library`` into ``ort`` unless done already in this process; never raises."""
    done = _ort_registrations.get(library.name)
    if done is not None and done.library.path == library.path:
        return done
    version = str(getattr(ort, "__version__", "?"))
    result = Registration(library, version)
    if library.error:
        result.error = library.error
    else:
        try:
            before = {_key(d) for d in ort.get_ep_devices()}
            ort.register_execution_provider_library(library.name, library.path)
            result.registered = True
            present = list(ort.get_ep_devices())
            result.devices = [d for d in present if _key(d) not in before]
            result.hardware = _hardware(present)
        except Exception as exc:  # onnxruntime's Fail / RuntimeError, in its own words
            result.error = registration_error(library, f"onnxruntime {version}", exc)
    _ort_registrations[library.name] = result
    return result


def registration_error(library: EpLibrary, runtime: str, exc: BaseException) -> str:
    """One line: which library, which runtime refused it, its words, and what to do."""
    words = first_line(exc)
    fix = ("fix or remove it in [ep_libraries] of the config" if library.source == "config"
           else f"reinstall {library.package} or install the version built for this onnxruntime")
    if "already registered" in words:
        fix = "each library must be registered once: remove the duplicate from [ep_libraries]"
    origin = f" ({library.package} {library.version})" if library.package else ""
    return f"EP library {library.name!r}{origin} at {library.path}: {runtime} cannot register it: {words}; {fix}"


def find_registration(ort: Any, library: dict[str, Any]) -> Registration:
    """The registration of the library a device names (``device.config["ep_library"]``), made if needed."""
    return register(ort, EpLibrary.from_dict(library))


def register_genai(og: Any, library: dict[str, Any]) -> str:
    """Register a library into onnxruntime-genai (once per process); "" or the error, one line."""
    lib = EpLibrary.from_dict(library)
    if lib.name in _genai_registrations:
        return _genai_registrations[lib.name]
    error = lib.error
    if not error:
        try:
            og.register_execution_provider_library(lib.name, lib.path)
        except Exception as exc:
            error = registration_error(lib, f"onnxruntime-genai {getattr(og, '__version__', '?')}", exc)
    _genai_registrations[lib.name] = error
    return error


def _key(ep_device: Any) -> tuple[Any, ...]:
    key = ep_device_key(ep_device)
    return (key["ep_name"], key["type"], key["vendor_id"], key["device_id"])


def _hardware(ep_devices: list[Any]) -> list[str]:
    seen: dict[tuple[Any, ...], str] = {}
    for d in ep_devices:
        hw = d.device
        key = (hardware_kind(d), int(hw.vendor_id), int(hw.device_id))
        seen.setdefault(key, f"{key[0]} {hw.vendor or '?'} (vendor_id {key[1]:#06x})")
    return list(seen.values())


def library_report() -> list[dict[str, Any]]:
    """Every library this process uses, registered into its onnxruntime, as ``devices --json`` lists them.

    Without an importable onnxruntime each library is listed with that reason.
    """
    try:
        # lazy: the runtime, loaded when devices are listed (an environment may lack it)
        import onnxruntime
    except Exception as exc:
        return [{**lib.to_dict(), "onnxruntime": "", "registered": False, "devices": [],
                 "reason": lib.error or f"onnxruntime is not importable here ({type(exc).__name__}: "
                                        f"{first_line(exc)}), so no EP library can be registered"}
                for lib in libraries()]
    return [registration.to_dict() for registration in register_all(onnxruntime)]
