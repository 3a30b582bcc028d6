"""Builders of the bundled tiny random-weight models (maintainer tooling, run by ``tools/build_models.py``).

Not part of the harness runtime: nothing in ``genai_harness`` imports it. One job per module; imports run
one way (``tools/build_models.py`` -> ``manifest`` / ``llm`` / ``diffusion`` -> ``sd_onnx`` / ``clip_bpe`` ->
``recipes`` / ``common``):

``common``     paths (corpus, default output folder), seed, logging, hashing and file tables, subprocesses,
               tool versions, JSON writing
``recipes``    the tokenizer and architecture parameters of both models (recorded in the manifest)
``llm``        tiny-llm: byte-level BPE tokenizer, random-init Llama, onnxruntime-genai and OpenVINO exports
``clip_bpe``   tiny-sd's hand-made, deterministic CLIP BPE tokenizer
``diffusion``  tiny-sd: random-init diffusers pipeline, its checkpoint, and the OpenVINO folder
``sd_onnx``    tiny-sd's per-component ONNX export and its ``components.json`` I/O contract
``manifest``   ``manifest.json``: schema version, previous entries, tool versions, summary

Only the standard library is imported at module level; the build toolchain (torch, transformers,
diffusers, optimum, onnx, openvino ...) is imported inside the functions that need it, so that
``tools/build_models.py --help`` runs without it.
"""
