"""The recipes of the bundled tiny models: tokenizer and architecture parameters.

Builders read them to make the models, and the manifest records them verbatim (so a change here is a
change of the bundled models). Plain data, no imports.
"""

from __future__ import annotations

LLM_TOKENIZER = {
    "type": "byte-level BPE (tokenizers library), trained on corpus/public_domain.txt",
    "vocab_size": 2048,
    "min_frequency": 1,
    "special_tokens": ["<unk>", "<s>", "</s>"],
    "unk_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "adds_bos": False,
    "adds_eos": False,
}

LLM_CONFIG = {
    "architecture": "LlamaForCausalLM",
    "vocab_size": 2048,
    "hidden_size": 160,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    # onnxruntime's GroupQueryAttention (CPU) needs head_size % 16 == 0
    "num_attention_heads": 5,
    "num_key_value_heads": 5,
    "head_dim": 32,
    "max_position_embeddings": 4096,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "hidden_act": "silu",
    "initializer_range": 0.02,
    # Untied: with tied embeddings a random model's greedy argmax is the input token itself,
    # so generation degenerates into one repeated token.
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
    "torch_dtype": "float32",
}

SD_TOKENIZER = {
    "type": "CLIP BPE (vocab.json + merges.txt), merges trained on the lower-cased corpus",
    "vocab_size": 1000,
    "model_max_length": 77,
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>",
}

SD_CONFIG = {
    "pipeline": "StableDiffusionPipeline",
    "image_size": 64,
    "text_encoder": {
        "class": "CLIPTextModel",
        "vocab_size": 1000,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 5,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "layer_norm_eps": 1e-5,
        "hidden_act": "quick_gelu",
        "projection_dim": 32,
    },
    "unet": {
        "class": "UNet2DConditionModel",
        "sample_size": 32,
        "in_channels": 4,
        "out_channels": 4,
        "layers_per_block": 1,
        "block_out_channels": [32, 64],
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
        "cross_attention_dim": 32,
        "attention_head_dim": 8,
        "norm_num_groups": 32,
    },
    "vae": {
        "class": "AutoencoderKL",
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 4,
        "block_out_channels": [32, 64],
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
        "layers_per_block": 1,
        "norm_num_groups": 32,
        "sample_size": 64,
        "scaling_factor": 0.18215,
    },
    "scheduler": {
        "class": "EulerDiscreteScheduler",
        "num_train_timesteps": 1000,
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "prediction_type": "epsilon",
        "timestep_spacing": "leading",
        "steps_offset": 1,
        "interpolation_type": "linear",
    },
    "onnx": {"text_encoder_opset": 18, "text_encoder_exporter": "dynamo",
             "unet_opset": 17, "vae_decoder_opset": 17, "unet_vae_exporter": "torchscript (legacy)",
             "unet_timestep_dtype": "int64"},
}
