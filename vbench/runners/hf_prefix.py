"""Prefix (KV-cache) reuse for the transformers runner's multi-turn generation.

A conversation's next turn repeats the whole previous turn (prompt + answer) before its new words, so
recomputing it makes turn ``t`` cost ``t`` turns. Here every generated row leaves its key/value states
(prompt + generated tokens) in a byte-bounded LRU store, keyed by its *position keys*: the token ids,
with each image placeholder replaced by a key derived from the image's sha256 (same text, other image:
no match). A later request that continues a stored conversation (its keys repeat the stored prompt and
go on) reuses the longest such prefix; only the rest is prefilled, all rows of a batch together,
through ``generate(cache=...)``:

    row layout: [pad][reused prefix p_i][pad][new tokens s_i]  (prefix right-aligned at Pmax, rows left-padded)

The cache (a ``StaticCache`` sized for prompt and answer, so decoding writes in place rather than
re-concatenating every layer each step) holds the reused prefixes (zeros under the pads, masked);
position ids come from the model's own ``_prepare_position_ids_for_generation`` over the full layout
(holes skipped, Qwen2-VL's M-RoPE included), so a row sees the same positions, keys and values as
without reuse and its tokens do not depend on the store (up to float rounding of the split prefill).
Models whose cache is not plain full attention (sliding windows, linear attention) or whose processor
emits image inputs this module cannot split per image fall back to no reuse (one debug line says why).
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
class BatchKV:
    """The past key/values one ``generate`` left, per layer (rows, heads, positions, head_dim), shared by
    the entries of its rows: storing a row copies nothing, and the whole batch's bytes count against the
    budget while any of its rows is stored (under pressure the store compacts it first, see ``put``)."""
    layers: list[tuple[torch.Tensor, torch.Tensor]]
    nbytes: int
    rows: int
    users: int = 0

    @classmethod
    def of(cls, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> "BatchKV":
        nbytes = sum(t.numel() * t.element_size() for pair in layers for t in pair)
        return cls(layers, nbytes, layers[0][0].shape[0] if layers else 1)


@dataclass(eq=False)
class PrefixEntry:
    keys: np.ndarray  # int64 position keys of the cached positions
    prompt_len: int  # positions that were prompt; the rest was generated
    batch: BatchKV
    row: int = 0  # this entry's row of the batch
    cols: np.ndarray | None = None  # the batch positions holding ``keys``, in order (None: the first len(keys))
    used: int = 0  # the store's clock when last stored or looked up

    def layer(self, index: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of layer ``index`` at the first ``n`` positions, each (heads, n, head_dim)."""
        k, v = self.batch.layers[index]
        if self.cols is None:
            return k[self.row, :, :n], v[self.row, :, :n]
        cols = torch.as_tensor(self.cols[:n], device=k.device)
        return k[self.row].index_select(1, cols), v[self.row].index_select(1, cols)

    def compacted(self) -> BatchKV:
        """This entry's own copy of its positions (one row, nothing else pinned)."""
        n = len(self.keys)
        return BatchKV.of([(k.unsqueeze(0).clone(), v.unsqueeze(0).clone())
                           for k, v in (self.layer(i, n) for i in range(len(self.batch.layers)))])


class PrefixStore:
    """Byte-bounded LRU of past key/value states, looked up by longest common prefix."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[int, PrefixEntry] = OrderedDict()
        # prompt length -> prompt keys' bytes -> entries: a lookup hashes one prefix per stored prompt length
        # instead of comparing against every entry (a long single-turn run stores thousands of one length)
        self._by_prompt: dict[int, dict[bytes, list[PrefixEntry]]] = {}
        self._clock = 0  # when each entry was last stored or looked up: ties go to the least recent
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
        for length, group in self._by_prompt.items():
            if length >= len(keys):
                continue
            for entry in group.get(keys[:length].tobytes(), ()):
                n = min(len(entry.keys), len(keys))
                same = entry.keys[length:n] == keys[length:n]
                common = n if same.all() else length + int(same.argmin())
                if common > best_len or (common == best_len and best is not None and entry.used < best.used):
                    best, best_len = entry, common
        if best is not None:
            self._entries.move_to_end(id(best))
            self._touch(best)
        return best, best_len

    def _touch(self, entry: PrefixEntry) -> None:
        self._clock += 1
        entry.used = self._clock

    def _index(self, entry: PrefixEntry) -> list[PrefixEntry]:
        group = self._by_prompt.setdefault(entry.prompt_len, {})
        return group.setdefault(entry.keys[:entry.prompt_len].tobytes(), [])

    def _forget(self, entry: PrefixEntry) -> None:
        self._release(entry)
        group = self._by_prompt[entry.prompt_len]
        prompt = entry.keys[:entry.prompt_len].tobytes()
        group[prompt].remove(entry)
        if not group[prompt]:
            del group[prompt]
            if not group:
                del self._by_prompt[entry.prompt_len]

    def _hold(self, entry: PrefixEntry) -> None:
        if entry.batch.users == 0:
            self.bytes += entry.batch.nbytes
        entry.batch.users += 1

    def _release(self, entry: PrefixEntry) -> None:
        entry.batch.users -= 1
        if entry.batch.users == 0:
            self.bytes -= entry.batch.nbytes

    def put(self, entry: PrefixEntry) -> None:
        if entry.batch.nbytes > self.max_bytes and entry.batch.rows > 1 and entry.batch.layers:
            entry.batch, entry.row, entry.cols = entry.compacted(), 0, None  # a batch over budget: this row alone
        if entry.batch.nbytes > self.max_bytes:
            return
        self._entries[id(entry)] = entry
        self._index(entry).append(entry)
        self._touch(entry)
        self._hold(entry)
        if self.bytes > self.max_bytes:
            self._compact()
        while self.bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self._forget(old)
            if not self.evictions:
                log.info("prefix cache full (%.0f MB): the least recently used prefixes are dropped; a budget "
                         "that holds every conversation in flight keeps reuse", self.max_bytes / 2**20)
            self.evictions += 1

    def _compact(self) -> None:
        """Before anything is evicted, batches that only some stored rows still use give back the rest:
        each of those rows gets its own copy."""
        for entry in list(self._entries.values()):
            if entry.batch.users < entry.batch.rows and entry.batch.layers:
                own = entry.compacted()
                self._release(entry)
                entry.batch, entry.row, entry.cols = own, 0, None
                self._hold(entry)
            if self.bytes <= self.max_bytes:
                return

    def discard(self, entry: PrefixEntry) -> None:
        if self._entries.pop(id(entry), None) is not None:
            self._forget(entry)


def reuse_blocker(model: Any) -> str | None:
    """Why this model's generation cannot continue exactly from stored prefixes (None: it can)."""
    from transformers import StaticCache
    from transformers.cache_utils import StaticLayer

    if getattr(model.config, "is_encoder_decoder", False):
        return "encoder-decoder model"
    if not hasattr(model, "_prepare_position_ids_for_generation"):
        return "this transformers version has no _prepare_position_ids_for_generation"
    import inspect

    if "position_ids" not in inspect.signature(model.forward).parameters:
        return "the model's forward takes no position_ids"
    try:
        layers = StaticCache(config=model.config, max_cache_len=1).layers
    except Exception as exc:  # an architecture StaticCache cannot describe
        return f"StaticCache(config) fails: {type(exc).__name__}"
    odd = {type(layer).__name__ for layer in layers if type(layer) is not StaticLayer}
    if odd:
        return f"cache layers other than full attention ({', '.join(sorted(odd))})"
    # Reused prefixes are written with zeros under their pads; a StaticCache that infers its length from
    # non-zero keys (transformers < 5.4) would then misplace every later position.
    probe = StaticCache(config=model.config, max_cache_len=2)
    zeros = torch.zeros((1, 1, 1, 1))
    probe.update(zeros, zeros, 0)
    if int(probe.get_seq_length()) != 1:
        return "this transformers' StaticCache counts non-zero keys, not written positions (needs >= 5.4)"
    return None


def position_keys(ids: np.ndarray, image_token_id: int | None,
                  digests: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, int]] | None]:
    """Token ids with every image placeholder run keyed by its image; also each image's (start, end).

    If placeholder runs do not map one to one onto the images (adjacent images without a separator),
    every placeholder takes a key over all of the row's images and the runs are None.
    """
    keys = np.array(ids, dtype=np.int64)  # a copy: image runs are overwritten below
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
    real: np.ndarray  # which columns of the processor's padded row hold tokens (bool)
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
        ids = inputs["input_ids"].cpu().numpy()
        mask = inputs["attention_mask"].cpu().numpy().astype(bool)
        rows = []
        for i in range(len(ids)):
            keys, runs = position_keys(ids[i][mask[i]], self.image_token_id, digests[i])
            entry, common = self.store.lookup(keys)
            rows.append(_Row(mask[i], keys, runs, entry, common, reusable_length(common, keys, runs)))
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
        cache = self._cache(rows, p_max, width + int(gen_kwargs["max_new_tokens"]))
        with torch.inference_mode():
            out = self.model.generate(**layout, cache=cache, **{**gen_kwargs, "return_dict_in_generate": True})
        self._store(rows, layout["attention_mask"], out.sequences[:, width:], cache)
        PrefillStats(rows=len(rows), rows_reused=sum(r.reuse > 0 for r in rows),
                     prompt_positions=sum(len(r.keys) for r in rows),
                     computed_positions=sum(len(r.keys) - r.reuse for r in rows)).log()
        return out, width

    # -- building the batch -----------------------------------------------------------------------
    def _layout(self, inputs: dict, rows: list[_Row], p_max: int, width: int) -> dict:
        if p_max == 0:  # nothing reused: the layout is the processor's own left padding
            return {key: inputs[key] for key in _PER_POSITION if key in inputs}
        layout = {}
        for key in _PER_POSITION:
            if key not in inputs:
                continue
            src = inputs[key]
            fill = self.pad_token_id if key == "input_ids" else 0
            dst = torch.full((len(rows), width), fill, dtype=src.dtype, device=src.device)
            for i, r in enumerate(rows):
                vals = src[i][torch.from_numpy(r.real).to(src.device)]
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

    def _cache(self, rows: list[_Row], p_max: int, capacity: int):
        """A ``StaticCache`` holding the reused prefixes: sized once for prompt and answer, so decoding
        writes each step in place instead of re-concatenating every layer's growing keys and values.
        With nothing reused (a first turn, a single-turn request) it is the ``DynamicCache`` plain
        generation uses: a prompt prefilled whole may then take attention's causal fast path, which
        an explicit mask over positions not yet written (a preallocated cache's) rules out."""
        from transformers import DynamicCache, StaticCache

        reused = [(i, r.reuse, r.entry) for i, r in enumerate(rows) if r.reuse > 0 and r.entry is not None]
        if not reused:
            return DynamicCache(config=self.model.config)
        cache = StaticCache(config=self.model.config, max_cache_len=capacity)
        for layer, (k0, v0) in enumerate(reused[0][2].batch.layers):
            k = k0.new_zeros((len(rows), k0.shape[1], p_max, k0.shape[3]))
            v = v0.new_zeros((len(rows), v0.shape[1], p_max, v0.shape[3]))
            for i, n, entry in reused:
                k[i, :, p_max - n:], v[i, :, p_max - n:] = entry.layer(layer, n)
            cache.update(k, v, layer)
        return cache

    # -- keeping what was computed ----------------------------------------------------------------
    def _store(self, rows: list[_Row], prompt_mask: torch.Tensor, new_tokens: torch.Tensor, cache) -> None:
        """Every row's prompt and answer positions become an entry over the batch's cache (no copy, unless
        the rows ended so early that more than an eighth of a preallocated cache was never written)."""
        cached_len = int(cache.get_seq_length())
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        if layers and layers[0][0].shape[2] - cached_len > layers[0][0].shape[2] // 8:
            layers = [(k[:, :, :cached_len].clone(), v[:, :, :cached_len].clone()) for k, v in layers]
        batch = BatchKV.of(layers)
        width = prompt_mask.shape[1]
        eos = self.model.generation_config.eos_token_id
        eos = list(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        mask = prompt_mask.cpu().numpy().astype(bool)
        new = new_tokens.cpu().numpy().astype(np.int64)
        ended = np.isin(new, eos)
        for i, r in enumerate(rows):
            n_gen = int(ended[i].argmax()) + 1 if ended[i].any() else new.shape[1]
            n_gen = min(n_gen, cached_len - width)
            cols = np.concatenate([np.flatnonzero(mask[i]), np.arange(width, width + n_gen)])
            if r.entry is not None:  # lookup returns only entries this turn continues: not asked again
                self.store.discard(r.entry)
            self.store.put(PrefixEntry(np.concatenate([r.keys, new[i, :n_gen]]), len(r.keys), batch, i, cols))
