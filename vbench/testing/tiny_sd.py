"""A tiny randomly initialised Stable Diffusion pipeline, built from configs fully offline.

It saves and reloads like a real checkpoint (``DiffusionPipeline.from_pretrained``), so the avatar
builder's real loading, batching and seeding code runs in tests and benchmarks; its images are noise.
"""
from __future__ import annotations

from pathlib import Path


def _prompt_tokenizer(seed: int, vocab_size: int = 2000):
    """Byte-level BPE trained on the avatar templates' own words, so prompts fit CLIP's 77 tokens as with
    the real tokenizer."""
    import random
    import re

    from importlib import resources
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    text = resources.files("vbench.data.avatars").joinpath("templates/v1.yaml").read_text("utf-8")
    words = sorted(set(re.findall(r"[a-z0-9-]+", text.lower())))
    rng = random.Random(seed)
    corpus = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "," for _ in range(3000)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=vocab_size,
                                                        special_tokens=["<|startoftext|>", "<|endoftext|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def build_tiny_sd(out: str | Path, seed: int = 0, sample_size: int = 32) -> Path:
    """Write a StableDiffusionPipeline (CLIP text encoder, UNet, VAE, DDIM) of a few MB to ``out``."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

    out = Path(out)
    torch.manual_seed(seed)
    tok = PreTrainedTokenizerFast(tokenizer_object=_prompt_tokenizer(seed),
                                  bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                                  pad_token="<|endoftext|>", model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id))
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=sample_size, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        norm_num_groups=32, sample_size=sample_size * 2)
    sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tok, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(out)  # type: ignore[attr-defined]  # diffusers types the top-level name as its no-torch dummy
    return out
