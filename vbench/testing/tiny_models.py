"""Tiny randomly initialised VLMs and CLIP built from configs, fully offline.

They load through the normal ``Auto*`` classes exactly like real checkpoints, so the real loading,
chat-template, batching and log-prob code is exercised; their answers are noise.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

SYNTHETIC = "random-weight tiny model built by vbench.testing (its answers are noise)"
_WORDS = ("the a an image picture photo of person character yes no answer rate aggressive hostile "
          "one two three four five six seven 1 2 3 4 5 6 7 I you we propose accept reject split for me "
          "and $ 50 70 30 interesting content scroll video value round game money offer").split()


def _train_tokenizer(special: list[str], vocab_size: int = 1000, seed: int = 0):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    rng = random.Random(seed)
    corpus = (" ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12))) + "." for _ in range(2000))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    return tok


_LLAVA_CHAT = (
    "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>' }}\n{% if m['content'] is string %}"
    "{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")

_QWEN_CHAT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _token_ids(tok: PreTrainedTokenizerBase, tokens: list[str]) -> dict[str, int]:
    """Each token's id (one token in, one int out; the tokenizer's signature also covers lists)."""
    ids: dict[str, int] = {}
    for t in tokens:
        i = tok.convert_tokens_to_ids(t)
        assert isinstance(i, int)
        ids[t] = i
    return ids


def build_tiny_llava(out: str | Path, seed: int = 0, hidden: int = 64, layers: int = 2) -> Path:
    import torch
    from transformers import (CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration,
                              LlavaProcessor, PreTrainedTokenizerFast)
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    out = Path(out)
    special = ["<pad>", "<s>", "</s>", "<image>", "<|user|>", "<|assistant|>", "<|system|>"]
    tok = PreTrainedTokenizerFast(tokenizer_object=_train_tokenizer(special, seed=seed), bos_token="<s>",
                                  eos_token="</s>", pad_token="<pad>", padding_side="left")
    img, patch = 56, 14
    ip = CLIPImageProcessorPil(size={"shortest_edge": img}, crop_size={"height": img, "width": img})
    proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=patch, vision_feature_select_strategy="default",
                          chat_template=_LLAVA_CHAT, image_token="<image>", num_additional_image_tokens=1)
    ids = _token_ids(tok, special)
    heads = max(2, hidden // 32)
    cfg = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                       image_size=img, patch_size=patch, projection_dim=32),
        text_config=LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                                num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads // 2 or 1,
                                max_position_embeddings=4096, bos_token_id=ids["<s>"], eos_token_id=ids["</s>"],
                                pad_token_id=ids["<pad>"]),
        image_token_index=ids["<image>"], vision_feature_layer=-2, vision_feature_select_strategy="default",
        pad_token_id=ids["<pad>"])  # type: ignore[call-arg]  # extra config keys are accepted at run time, not typed
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(cfg).eval()
    model.generation_config.pad_token_id = ids["<pad>"]
    model.generation_config.eos_token_id = ids["</s>"]
    model.config.vbench_synthetic = SYNTHETIC
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return out


def build_tiny_qwen2vl(out: str | Path, seed: int = 0, hidden: int = 64, head_dim: int = 16) -> Path:
    """Qwen2-VL type; its AutoProcessor needs torchvision (for the video processor).

    ``head_dim`` 32 or more makes a model vLLM's CPU attention can serve (it has kernels for head sizes
    32, 64, 80, ... only); the mrope sections always add up to ``head_dim / 2`` as Qwen2-VL requires.
    """
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if hidden % head_dim or head_dim % 8:
        raise ValueError(f"hidden ({hidden}) must be a multiple of head_dim ({head_dim}), itself a multiple of 8")
    out = Path(out)
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
               "<|image_pad|>", "<|video_pad|>"]
    tok = PreTrainedTokenizerFast(tokenizer_object=_train_tokenizer(special, seed=seed), eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", padding_side="left")
    tok.chat_template = _QWEN_CHAT
    ip = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112)
    ids = _token_ids(tok, special)
    heads = hidden // head_dim
    half = head_dim // 2  # temporal, height, width rotary sections (Qwen2-VL's real split is 16/24/24 of 64)
    mrope = [half // 4, half * 3 // 8, half - half // 4 - half * 3 // 8]
    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=2,
                         num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                         max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=2, embed_dim=2 * head_dim, hidden_size=hidden, num_heads=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.config.vbench_synthetic = SYNTHETIC
    model.save_pretrained(out)
    try:
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

        proc = Qwen2VLProcessor(image_processor=ip, tokenizer=tok, video_processor=Qwen2VLVideoProcessor(),
                                chat_template=_QWEN_CHAT)
        proc.save_pretrained(out)
    except ImportError:  # no torchvision: tokenizer + image processor only
        tok.save_pretrained(out)
        ip.save_pretrained(out)
    return out


def build_tiny_qwen2vl_vllm(out: str | Path, seed: int = 0) -> Path:
    """The tiny Qwen2-VL with head size 32, servable by vLLM on a CPU (and by transformers)."""
    return build_tiny_qwen2vl(out, seed=seed, hidden=64, head_dim=32)


def build_tiny_vlm(out: str | Path, arch: str = "llava", seed: int = 0) -> Path:
    if arch == "llava":
        return build_tiny_llava(out, seed=seed)
    if arch == "qwen2vl":
        return build_tiny_qwen2vl(out, seed=seed)
    if arch == "qwen2vl-vllm":
        return build_tiny_qwen2vl_vllm(out, seed=seed)
    raise ValueError(f"unknown tiny architecture {arch!r} (llava, qwen2vl, qwen2vl-vllm)")


def build_tiny_clip(out: str | Path, seed: int = 0, projection_dim: int = 512) -> Path:
    """Tiny random CLIPModel + CLIPProcessor (image 32×32)."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, PreTrainedTokenizerFast
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from tokenizers import processors

    out = Path(out)
    raw = _train_tokenizer(["<|startoftext|>", "<|endoftext|>"], seed=seed)
    # like CLIP's tokenizer: wrap every text in start/end tokens (the text vector is read at the end token)
    raw.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[(t, raw.token_to_id(t)) for t in ("<|startoftext|>", "<|endoftext|>")])
    tok = PreTrainedTokenizerFast(tokenizer_object=raw,
                                  bos_token="<|startoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                  model_max_length=77)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=projection_dim)
    torch.manual_seed(seed)
    CLIPModel(cfg).eval().save_pretrained(out)
    CLIPProcessor(image_processor=CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                  tokenizer=tok).save_pretrained(out)
    return out
