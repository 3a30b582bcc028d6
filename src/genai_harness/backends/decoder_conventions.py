"""How exporters name an ONNX decoder's inputs and outputs, and which convention a given model follows.

One table (:data:`CONVENTIONS`) maps each exporter's names onto the roles the plain-onnxruntime text pipeline
feeds: token ids, attention mask, position ids, the KV cache per layer (past in, present out) and the logits.
A model is matched from its own graph's names (read with ``onnx``, no session), so ``models add`` can refuse a
decoder no convention fits before anything runs, naming what it expected.

The KV cache of every convention here is one key and one value tensor per layer, laid out
``[batch, kv_heads, sequence, head_dim]``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from genai_harness.errors import ModelError


@dataclass(frozen=True)
class Convention:
    """One exporter family's names. ``%d`` in a pattern stands for the layer index."""

    name: str
    exporters: str
    input_ids: str = "input_ids"
    attention_mask: str = "attention_mask"
    past_key: str = "past_key_values.%d.key"
    past_value: str = "past_key_values.%d.value"
    logits: str = "logits"
    present_key: str = "present.%d.key"
    present_value: str = "present.%d.value"
    optional: tuple[str, ...] = ("position_ids",)
    """Inputs the model may have; the pipeline feeds each (see :data:`OPTIONAL_INPUTS`)."""

    def expected(self) -> str:
        """The names this convention expects, for an error line."""
        return (f"{self.input_ids}, {self.attention_mask}, {self.past_key % 0}/{self.past_value % 0} ... "
                f"(optional: {', '.join(self.optional)}) -> {self.logits}, {self.present_key % 0}/"
                f"{self.present_value % 0} ...")


OPTIONAL_INPUTS = {
    "position_ids": "[batch, sequence] int64: past_length .. past_length + sequence - 1",
    "cache_position": "[sequence] int64: past_length .. past_length + sequence - 1",
    "use_cache_branch": "[1] bool: true once the cache holds anything (optimum's merged decoder)",
}
"""Optional inputs the pipeline knows how to feed, and what it feeds."""

CONVENTIONS: tuple[Convention, ...] = (
    Convention("past_key_values/present", "onnxruntime-genai model builder (GroupQueryAttention), optimum / "
               "transformers.js exports, torch.onnx dynamo exports (opset 23 Attention), mobius-onnx",
               optional=("position_ids", "cache_position", "use_cache_branch")),
    Convention("past_key_values/present_key_values", "older optimum and Olive exports",
               present_key="present_key_values.%d.key", present_value="present_key_values.%d.value",
               optional=("position_ids", "use_cache_branch")),
    Convention("past_key/present_key", "exports naming one tensor per role and layer (past_key_N)",
               past_key="past_key_%d", past_value="past_value_%d", present_key="present_key_%d",
               present_value="present_value_%d"),
)
"""Every convention the plain-onnxruntime text pipeline reads, tried in order."""


@dataclass(frozen=True)
class DecoderIO:
    """A model's names matched to roles: what the pipeline feeds and reads each step."""

    convention: Convention
    n_layers: int
    optional_inputs: tuple[str, ...] = ()
    past_names: tuple[tuple[str, str], ...] = field(default=())
    present_names: tuple[tuple[str, str], ...] = field(default=())


def _layers(names: set[str], pattern: str) -> set[int]:
    regex = re.compile("^" + re.escape(pattern).replace("%d", r"(\d+)") + "$")
    return {int(m.group(1)) for m in (regex.match(n) for n in names) if m}


def match(inputs: list[str], outputs: list[str]) -> DecoderIO | None:
    """The first convention whose every name the model has and whose every model input it can feed, or None."""
    have_in, have_out = set(inputs), set(outputs)
    for conv in CONVENTIONS:
        if conv.input_ids not in have_in or conv.attention_mask not in have_in or conv.logits not in have_out:
            continue
        layers = _layers(have_in, conv.past_key)
        n = len(layers)
        if not n or layers != set(range(n)):
            continue
        sets = [_layers(have_in, conv.past_value), _layers(have_out, conv.present_key),
                _layers(have_out, conv.present_value)]
        if any(s != layers for s in sets):
            continue
        past = tuple((conv.past_key % i, conv.past_value % i) for i in range(n))
        known = {conv.input_ids, conv.attention_mask, *conv.optional, *(name for pair in past for name in pair)}
        if not have_in <= known:
            continue
        optional = tuple(name for name in conv.optional if name in have_in)
        present = tuple((conv.present_key % i, conv.present_value % i) for i in range(n))
        return DecoderIO(conv, n, optional, past, present)
    return None


def refusal(path: Path, inputs: list[str], outputs: list[str]) -> ModelError:
    """The one-line error for a decoder no convention fits: its names and those each convention expected."""
    shown = ", ".join(inputs[:8]) + (" ..." if len(inputs) > 8 else "")
    outs = ", ".join(outputs[:4]) + (" ..." if len(outputs) > 4 else "")
    expected = "; or ".join(c.expected() for c in CONVENTIONS)
    return ModelError(f"{path} is a decoder whose inputs follow no known convention (it has {shown} -> {outs}); "
                      f"expected {expected}; re-export it with the onnxruntime-genai builder, optimum or "
                      "torch.onnx (dynamo) with a KV cache")


def read_io(onnx_file: Path) -> tuple[list[str], list[str]]:
    """The graph's input and output names (initializers excluded), read without loading the weights."""
    # lazy: onnx is only needed when a decoder is checked or loaded
    import onnx

    try:
        model = onnx.load(str(onnx_file), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{onnx_file} is not a readable ONNX model (truncated or corrupt?): {exc}") from None
    initializers = {t.name for t in model.graph.initializer}
    return ([v.name for v in model.graph.input if v.name not in initializers], [v.name for v in model.graph.output])


def decoder_io(onnx_file: Path) -> DecoderIO:
    """The matched convention of ``onnx_file``, or the :class:`ModelError` of :func:`refusal`."""
    inputs, outputs = read_io(onnx_file)
    found = match(inputs, outputs)
    if found is None:
        raise refusal(onnx_file, inputs, outputs)
    return found


def decoder_file(folder: Path) -> Path:
    """The decoder ``.onnx`` of a model folder: genai_config.json's decoder, else model.onnx, else the only one."""
    config = folder / "genai_config.json"
    if config.is_file():
        try:
            name = json.loads(config.read_text(encoding="utf-8"))["model"]["decoder"]["filename"]
            if isinstance(name, str) and name and not Path(name).is_absolute() and ".." not in Path(name).parts:
                return folder / name
        except (ValueError, KeyError, TypeError, OSError):
            pass
    if (folder / "model.onnx").is_file():
        return folder / "model.onnx"
    found = sorted(folder.glob("*.onnx"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ModelError(f"{folder} holds no .onnx decoder; give the folder of an exported decoder (model.onnx)")
    raise ModelError(f"{folder} holds {len(found)} .onnx files ({', '.join(p.name for p in found[:4])}) and no "
                     "model.onnx; name the decoder model.onnx")
