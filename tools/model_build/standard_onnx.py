"""A standard-op ONNX export of a causal LM checkpoint: torch.onnx's dynamo exporter at opset 23, no contrib ops.

Why torch.onnx and not mobius-onnx: it is already in the build toolchain (torch 2.13 + onnxscript), it exports
the checkpoint's own transformers modelling code (the same weights and maths the reference is computed with), and
at opset 23 it lowers ``scaled_dot_product_attention`` to the standard ``Attention`` op. mobius-onnx would add a
second model definition to trust.

The graph follows the optimum / transformers export convention the harness's plain-onnxruntime backend reads
(``genai_harness.backends.decoder_conventions``)::

    input_ids [batch, seq] int64, attention_mask [batch, past+seq] int64, position_ids [batch, seq] int64,
    past_key_values.N.key / .value [batch, kv_heads, past, head_dim] float32
    -> logits [batch, seq, vocab] float32, present.N.key / .value [batch, kv_heads, past+seq, head_dim]

The toolchain (torch, transformers, onnx) is imported inside the functions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .common import fresh_dir

OPSET = 23


def _wrapper(model: Any, n_layers: int) -> Any:
    """A module with flat tensor inputs/outputs around ``model`` (the dynamo exporter names them after ours)."""
    import torch
    from transformers import DynamicCache

    class FlatDecoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, position_ids: Any, *past: Any) -> Any:
            cache = DynamicCache(config=model.config)
            for layer in range(n_layers):
                cache.update(past[2 * layer], past[2 * layer + 1], layer)
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             past_key_values=cache, use_cache=True, return_dict=True)
            presents = []
            for layer in out.past_key_values.layers:
                presents += [layer.keys, layer.values]
            return (out.logits, *presents)

    return FlatDecoder().eval()


def export_standard_onnx(hf_dir: Path, out_dir: Path) -> dict:
    """Export ``hf_dir`` to ``out_dir/model.onnx`` (weights inside when small) with its tokenizer files."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    fresh_dir(out_dir)
    config = AutoConfig.from_pretrained(str(hf_dir))
    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32,
                                                 attn_implementation="sdpa").eval()
    n_layers = int(config.num_hidden_layers)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)
    batch, seq, past = 2, 3, 5  # not 1: torch.export specializes sizes 0 and 1
    past_tensors = [torch.randn(batch, kv_heads, past, head_dim) for _ in range(2 * n_layers)]
    args = (torch.ones(batch, seq, dtype=torch.int64), torch.ones(batch, past + seq, dtype=torch.int64),
            torch.arange(past, past + seq, dtype=torch.int64).repeat(batch, 1), *past_tensors)
    past_names = [f"past_key_values.{i}.{kind}" for i in range(n_layers) for kind in ("key", "value")]
    present_names = [f"present.{i}.{kind}" for i in range(n_layers) for kind in ("key", "value")]
    b, s, p = (torch.export.Dim(n) for n in ("batch", "sequence_length", "past_sequence_length"))
    dynamic = {"input_ids": {0: b, 1: s}, "attention_mask": {0: b, 1: torch.export.Dim.AUTO},
               "position_ids": {0: b, 1: s}, "past": tuple({0: b, 2: p} for _ in past_names)}
    onnx_file = out_dir / "model.onnx"
    with torch.no_grad():
        program = torch.onnx.export(
            _wrapper(model, n_layers), args, dynamo=True, opset_version=OPSET, external_data=False,
            input_names=["input_ids", "attention_mask", "position_ids", *past_names],
            output_names=["logits", *present_names], dynamic_shapes=dynamic, optimize=True)
    program.save(str(onnx_file), external_data=False)  # a few MB: one file
    for name in ("tokenizer.json", "tokenizer_config.json", "config.json", "generation_config.json",
                 "chat_template.jinja", "special_tokens_map.json"):
        if (hf_dir / name).is_file():
            shutil.copy2(hf_dir / name, out_dir / name)
    census = op_census(onnx_file)
    (out_dir / "export.json").write_text(json.dumps({
        "exporter": "torch.onnx (dynamo)", "torch": torch.__version__, "opset": OPSET, "op_census": census},
        indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {"tool": "torch.onnx.export(dynamo=True)", "opset": OPSET, "op_census": census}


def op_census(onnx_file: Path) -> dict[str, int]:
    """Node count per ``domain::op_type`` of the main graph (an empty domain is ai.onnx)."""
    import onnx

    model = onnx.load(str(onnx_file), load_external_data=False)
    counts: dict[str, int] = {}
    for node in model.graph.node:
        key = f"{node.domain or 'ai.onnx'}::{node.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
