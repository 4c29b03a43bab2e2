"""Prefix (KV-cache) reuse for the transformers runner's multi-turn generation.

A conversation's next turn repeats the whole previous turn (prompt + answer) before its new words, so
recomputing it makes turn ``t`` cost ``t`` turns. Here every generated row leaves its key/value states
(prompt + generated tokens) in a byte-bounded LRU store, keyed by its *position keys*: the token ids,
with each image placeholder replaced by a key derived from the image's sha256 (same text, other image:
no match). A later request that continues a stored conversation (its keys repeat the stored prompt and
go on) reuses the longest such prefix; only the rest is prefilled, all rows of a batch together, through ``generate(cache=...)``:

    row layout: [pad][reused prefix p_i][pad][new tokens s_i]  (prefix right-aligned at Pmax, rows left-padded)

The cache holds the reused prefixes (zeros under the pads, masked); position ids come from the model's own
``_prepare_position_ids_for_generation`` over the full layout (holes skipped, Qwen2-VL's M-RoPE
included), so a row sees the same positions, keys and values as without reuse and its tokens do not
depend on the store (up to float rounding of the split prefill). Models whose cache is not a plain
full-attention ``DynamicCache`` (sliding windows, linear attention) or whose processor emits image
inputs this module cannot split per image fall back to no reuse (one debug line says why).
"""
from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

# processor outputs that follow the token sequence (sliced per position) or the images (sliced per image)
_PER_POSITION = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")
_PER_IMAGE = ("pixel_values", "image_grid_thw", "image_sizes")


def image_key(digest: str) -> int:
    """A negative int64 standing for one image (token ids are never negative)."""
    return -1 - int(hashlib.sha256(digest.encode()).hexdigest()[:15], 16)


@dataclass
class PrefixEntry:
    keys: np.ndarray  # int64 position keys of the cached positions
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (heads, len(keys), head_dim)
    prompt_len: int  # positions that were prompt; the rest was generated
    nbytes: int


class PrefixStore:
    """Byte-bounded LRU of past key/value states, looked up by longest common prefix."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[int, PrefixEntry] = OrderedDict()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, keys: np.ndarray) -> tuple[PrefixEntry | None, int]:
        """The entry sharing the longest prefix with ``keys`` and that length (marks it recently used).

        Only a continuation counts: ``keys`` must repeat the entry's whole prompt and go on past it (a
        later turn of that conversation). A prefix merely shared with another episode (a system prompt,
        the text before an image, the same prompt asked again) is recomputed, so a single-turn answer
        never depends on which other episodes this process happened to run before it (resume, shards,
        ``--limit``)."""
        best, best_len = None, 0
        for entry in self._entries.values():
            if len(keys) <= entry.prompt_len:
                continue
            n = min(len(entry.keys), len(keys))
            if n <= best_len:
                continue
            same = entry.keys[:n] == keys[:n]
            common = n if same.all() else int(same.argmin())
            if common >= entry.prompt_len and common > best_len:
                best, best_len = entry, common
        if best is not None:
            self._entries.move_to_end(id(best))
        return best, best_len

    def put(self, entry: PrefixEntry) -> None:
        if entry.nbytes > self.max_bytes:
            return
        self._entries[id(entry)] = entry
        self.bytes += entry.nbytes
        while self.bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.bytes -= old.nbytes
            if not self.evictions:
                log.info("prefix cache full (%.0f MB): the least recently used prefixes are dropped; a budget "
                         "that holds every conversation in flight keeps reuse", self.max_bytes / 2**20)
            self.evictions += 1

    def discard(self, entry: PrefixEntry) -> None:
        if self._entries.pop(id(entry), None) is not None:
            self.bytes -= entry.nbytes


def reuse_blocker(model: Any) -> str | None:
    """Why this model's generation cannot continue exactly from stored prefixes (None: it can)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    if getattr(model.config, "is_encoder_decoder", False):
        return "encoder-decoder model"
    if not hasattr(model, "_prepare_position_ids_for_generation"):
        return "this transformers version has no _prepare_position_ids_for_generation"
    import inspect

    if "position_ids" not in inspect.signature(model.forward).parameters:
        return "the model's forward takes no position_ids"
    try:
        layers = DynamicCache(config=model.config).layers
    except Exception as exc:  # an architecture DynamicCache cannot describe
        return f"DynamicCache(config) fails: {type(exc).__name__}"
    odd = {type(layer).__name__ for layer in layers if type(layer) is not DynamicLayer}
    if odd:
        return f"cache layers other than full attention ({', '.join(sorted(odd))})"
    return None


def position_keys(ids: torch.Tensor, image_token_id: int | None,
                  digests: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, int]] | None]:
    """Token ids with every image placeholder run keyed by its image; also each image's (start, end).

    If placeholder runs do not map one to one onto the images (adjacent images without a separator),
    every placeholder takes a key over all of the row's images and the runs are None.
    """
    keys = ids.cpu().numpy().astype(np.int64)
    if image_token_id is None or not digests:
        return keys, []
    is_img = keys == image_token_id
    edges = np.diff(np.concatenate(([0], is_img.astype(np.int8), [0])))
    runs = list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
    if len(runs) != len(digests):
        keys[is_img] = image_key("+".join(digests))
        return keys, None
    for (start, end), digest in zip(runs, digests):
        keys[start:end] = image_key(digest)
    return keys, runs


def reusable_length(common: int, keys: np.ndarray, runs: list[tuple[int, int]] | None) -> int:
    """Positions to take from the store: at least one is left to compute (its logits start generation)
    and the cut never falls inside an image's placeholders."""
    n = min(common, len(keys) - 1)
    if runs is None:  # images not mapped one to one: reuse only the text before the first of them
        images = np.flatnonzero(keys < 0)
        return min(n, int(images[0])) if len(images) else 0
    for start, end in runs:
        if start < n < end:
            return start
    return max(n, 0)


@dataclass
class PrefillStats:
    rows: int = 0
    rows_reused: int = 0
    prompt_positions: int = 0
    computed_positions: int = 0

    @classmethod
    def without_reuse(cls, attention_mask: torch.Tensor) -> "PrefillStats":
        n = int(attention_mask.sum())
        return cls(rows=len(attention_mask), prompt_positions=n, computed_positions=n)

    def log(self) -> None:
        log.debug("prefill: %d rows (%d from a stored prefix), %d of %d prompt positions computed",
                  self.rows, self.rows_reused, self.computed_positions, self.prompt_positions,
                  extra={"prefill": self})


@dataclass
class _Row:
    real: torch.Tensor  # which columns of the processor's padded row hold tokens
    keys: np.ndarray
    runs: list[tuple[int, int]] | None
    entry: PrefixEntry | None  # the stored entry this row continues (longest such)
    common: int  # positions shared with it
    reuse: int  # positions taken from it


class PrefixReuse:
    """Generation that starts each row from its longest stored prefix and stores what it computed."""

    def __init__(self, model: Any, pad_token_id: int, max_bytes: int):
        self.model = model
        self.pad_token_id = pad_token_id
        self.store = PrefixStore(max_bytes)
        self.image_token_id = getattr(model.config, "image_token_id", None)

    def unsupported_inputs(self, inputs: dict) -> str | None:
        extra = set(inputs) - set(_PER_POSITION) - set(_PER_IMAGE)
        return f"processor outputs {sorted(extra)} cannot be split per image" if extra else None

    def generate(self, inputs: dict, digests: list[list[str]], gen_kwargs: dict) -> tuple[Any, int]:
        """``model.generate`` over ``inputs`` (left-padded processor output); returns (output, prompt width)."""
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        rows = []
        for i in range(len(ids)):
            real = mask[i].bool()
            keys, runs = position_keys(ids[i][real], self.image_token_id, digests[i])
            entry, common = self.store.lookup(keys)
            rows.append(_Row(real, keys, runs, entry, common, reusable_length(common, keys, runs)))
        # The batched prefill spans the longest new part whatever the cache boundary, so no row reuses more
        # than the boundary that keeps the layout as wide as plain left padding: the rest is free to recompute.
        boundary = max(len(r.keys) for r in rows) - max(len(r.keys) - r.reuse for r in rows)
        for r in rows:
            r.reuse = reusable_length(min(r.common, boundary), r.keys, r.runs) if r.entry is not None else 0
        p_max = max(r.reuse for r in rows)
        width = p_max + max(len(r.keys) - r.reuse for r in rows)
        layout = self._layout(inputs, rows, p_max, width)
        layout.update(self._new_images(inputs, rows, digests))
        layout["position_ids"] = self.model._prepare_position_ids_for_generation(
            layout["input_ids"], {**layout, **{k: inputs[k] for k in ("image_grid_thw",) if k in inputs}})
        cache = self._cache(rows, p_max)
        with torch.inference_mode():
            out = self.model.generate(**layout, cache=cache, **{**gen_kwargs, "return_dict_in_generate": True})
        self._store(rows, layout["attention_mask"], out.sequences[:, width:], cache)
        PrefillStats(rows=len(rows), rows_reused=sum(r.reuse > 0 for r in rows),
                     prompt_positions=sum(len(r.keys) for r in rows),
                     computed_positions=sum(len(r.keys) - r.reuse for r in rows)).log()
        return out, width

    # -- building the batch -----------------------------------------------------------------------
    def _layout(self, inputs: dict, rows: list[_Row], p_max: int, width: int) -> dict:
        layout = {}
        for key in _PER_POSITION:
            if key not in inputs:
                continue
            src = inputs[key]
            fill = self.pad_token_id if key == "input_ids" else 0
            dst = torch.full((len(rows), width), fill, dtype=src.dtype, device=src.device)
            for i, r in enumerate(rows):
                vals = src[i][r.real]
                dst[i, p_max - r.reuse:p_max] = vals[:r.reuse]
                dst[i, width - (len(r.keys) - r.reuse):] = vals[r.reuse:]
            layout[key] = dst
        return layout

    def _new_images(self, inputs: dict, rows: list[_Row], digests: list[list[str]]) -> dict:
        """Pixel inputs of the images whose placeholders are prefilled now (the reused ones are cached)."""
        if "pixel_values" not in inputs:
            return {}
        keep = []  # per image, in the processor's order (row by row)
        for r, row_digests in zip(rows, digests):
            keep += [start >= r.reuse for start, _ in r.runs] if r.runs else [True] * len(row_digests)
        if all(keep):
            return {k: inputs[k] for k in _PER_IMAGE if k in inputs}
        if not any(keep):
            return {}
        out = {}
        pixels = inputs["pixel_values"]
        if "image_grid_thw" in inputs:  # patches of all images concatenated (Qwen2-VL family)
            grids = inputs["image_grid_thw"]
            chunks = torch.split(pixels, grids.prod(-1).tolist())
            out["pixel_values"] = torch.cat([c for c, k in zip(chunks, keep) if k])
            out["image_grid_thw"] = grids[torch.tensor(keep, device=grids.device)]
        else:
            out["pixel_values"] = pixels[torch.tensor(keep, device=pixels.device)]
        if "image_sizes" in inputs:
            out["image_sizes"] = inputs["image_sizes"][torch.tensor(keep, device=inputs["image_sizes"].device)]
        return out

    def _cache(self, rows: list[_Row], p_max: int):
        from transformers import DynamicCache

        reused = [(i, r.reuse, r.entry) for i, r in enumerate(rows) if r.reuse > 0 and r.entry is not None]
        if not reused:
            return DynamicCache(config=self.model.config)
        data = []
        for layer, (k0, v0) in enumerate(reused[0][2].kv):
            k = k0.new_zeros((len(rows), k0.shape[0], p_max, k0.shape[2]))
            v = v0.new_zeros((len(rows), v0.shape[0], p_max, v0.shape[2]))
            for i, n, entry in reused:
                k[i, :, p_max - n:] = entry.kv[layer][0][:, :n]
                v[i, :, p_max - n:] = entry.kv[layer][1][:, :n]
            data.append((k, v))
        return DynamicCache(ddp_cache_data=data, config=self.model.config)

    # -- keeping what was computed ----------------------------------------------------------------
    def _store(self, rows: list[_Row], prompt_mask: torch.Tensor, new_tokens: torch.Tensor, cache) -> None:
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        cached_len = layers[0][0].shape[2]
        width = prompt_mask.shape[1]
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        for i, r in enumerate(rows):
            gen = new_tokens[i].tolist()
            n_gen = next((j + 1 for j, t in enumerate(gen) if t in eos), len(gen))
            n_gen = min(n_gen, cached_len - width)
            generated = torch.arange(width, width + n_gen, device=prompt_mask.device)
            cols = torch.cat([prompt_mask[i].nonzero().squeeze(1), generated]).to(layers[0][0].device)
            kv = [(k[i].index_select(1, cols), v[i].index_select(1, cols)) for k, v in layers]
            nbytes = sum(t.numel() * t.element_size() for pair in kv for t in pair)
            if r.entry is not None:  # lookup returns only entries this turn continues: not asked again
                self.store.discard(r.entry)
            self.store.put(PrefixEntry(np.concatenate([r.keys, np.asarray(gen[:n_gen], dtype=np.int64)]), kv,
                                       len(r.keys), nbytes))
