"""Prefix (KV-cache) reuse on the transformers runner: same tokens with reuse on and off, whatever the
batch, never fooled by another image or an edited history, bounded by bytes."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from vbench.runners.hf import HFArgs, HFRunner
from vbench.runners.hf_prefix import BatchKV, PrefixEntry, PrefixStore, reuse_blocker
from vbench.types import GenParams, ImagePart, Message, Request

MODELS = ["tiny_llava", "tiny_qwen2vl"]


def _sharpen(model, factor: float = 10.0) -> None:
    """Random tiny models attend almost uniformly, so a wrong position or key barely moves a token;
    larger query/key projections make attention, and so the reused states, decide the tokens."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "language_model" in name and ("q_proj" in name or "k_proj" in name):
                param.mul_(factor)


def _runner(path, store, cache_mb: int) -> HFRunner:
    runner = HFRunner(HFArgs(pretrained=str(path), device="cpu", prefix_cache_mb=cache_mb), store=store)
    runner._load()
    _sharpen(runner._model)
    return runner


def _image(store, i: int) -> ImagePart:
    return ImagePart(image=store.put_image(Image.new("RGB", (40 + 8 * i, 48), (30 * i, 90, 200 - 20 * i))))


def _opening(store, i: int, text: str | None = None) -> list[Message]:
    return [Message.system("Play the game."), Message.user(_image(store, i), text or f"You are player {i}.")]


def _request(history: list[Message], seed: int, temperature: float) -> Request:
    return Request(messages=tuple(history), gen=GenParams(max_tokens=8, temperature=temperature, seed=seed))


def _continue(history: list[Message], answer: str, turn: int) -> None:
    history += [Message.assistant(answer), Message.user(f"===round{turn}=== your move")]


@pytest.fixture
def prefill_log(caplog):
    """The runner's per-batch prefill records (rows, prompt positions, computed positions)."""
    caplog.set_level(logging.DEBUG, logger="vbench.runners.hf_prefix")
    return lambda: [r.prefill for r in caplog.records if hasattr(r, "prefill")]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
@pytest.mark.parametrize("model_fixture", MODELS)
def test_reuse_gives_the_same_tokens_and_distributions(model_fixture, temperature, request, store, prefill_log):
    path = request.getfixturevalue(model_fixture)
    on, off = _runner(path, store, 64), _runner(path, store, 0)
    assert on._prefix is not None and off._prefix is None
    # three conversations with an image, one without (a batch can mix them)
    histories = [_opening(store, i) for i in range(3)] + [[Message.system("Judge."), Message.user("Text only.")]]
    for turn in range(4):
        reqs = [_request(h, seed=10 * i + turn, temperature=temperature) for i, h in enumerate(histories)]
        got, got_lp = on._generate(reqs, want_first=True)
        want, want_lp = off._generate(reqs, want_first=True)
        assert [r.text for r in got] == [r.text for r in want]
        # the first step's whole distribution, not only the drawn token (a position off by one moves it ~1e-2)
        assert torch.allclose(got_lp, want_lp, atol=1e-4), float((got_lp - want_lp).abs().max())
        for h, r in zip(histories, got):
            _continue(h, r.text, turn + 1)
    reused = [s for s in prefill_log() if s.rows_reused]
    assert len(reused) == 3 and all(s.rows_reused == 4 for s in reused)  # every later turn, every row
    assert sum(s.computed_positions for s in reused) < sum(s.prompt_positions for s in reused) / 2


def _play(runner: HFRunner, store, starts: list[int], temperature: float, turns: int = 3) -> list[list[str]]:
    """Conversation i joins at step starts[i]; each step answers every active conversation in one batch
    (so a batch mixes conversations at different turns). Returns each conversation's answers."""
    histories = [_opening(store, i) for i in range(len(starts))]
    answers: list[list[str]] = [[] for _ in starts]
    for step in range(max(starts) + turns):
        active = [i for i, s in enumerate(starts) if s <= step < s + turns]
        got = runner.run([_request(histories[i], seed=100 * i + len(answers[i]), temperature=temperature)
                          for i in active])
        for i, r in zip(active, got):
            assert r.ok, r.error
            answers[i].append(r.text)
            _continue(histories[i], r.text, len(answers[i]))
    return answers


@pytest.mark.parametrize("model_fixture, temperature",
                         [("tiny_llava", 1.0), ("tiny_llava", 0.0), ("tiny_qwen2vl", 1.0)])
def test_batch_composition_does_not_change_tokens(model_fixture, temperature, request, store):
    """All conversations in lockstep, staggered (turns mixed in a batch), one at a time (batches of
    one), and without reuse: the same answers."""
    path = request.getfixturevalue(model_fixture)
    lockstep = _play(_runner(path, store, 64), store, [0, 0, 0, 0], temperature)
    staggered = _play(_runner(path, store, 64), store, [0, 1, 2, 2], temperature)
    one_by_one = [_play(_runner(path, store, 64), store, [0], temperature)[0]]
    without = _play(_runner(path, store, 0), store, [0, 0, 0, 0], temperature)
    assert lockstep == staggered == without
    assert one_by_one[0] == lockstep[0]
    if temperature > 0:
        assert len({a for conv in lockstep for a in conv}) > 1


def _reused(stats) -> int:
    return stats.prompt_positions - stats.computed_positions


def _first_image_position(runner: HFRunner, req: Request) -> int:
    ids = runner._encode([req])["input_ids"][0].tolist()
    return ids.index(runner._model.config.image_token_id)


@pytest.mark.parametrize("model_fixture", MODELS)
def test_other_image_same_words_is_not_reused(model_fixture, request, store, prefill_log):
    path = request.getfixturevalue(model_fixture)
    on, off = _runner(path, store, 64), _runner(path, store, 0)
    first = _request(_opening(store, 0, "Same words."), seed=1, temperature=1.0)
    other = _request(_opening(store, 1, "Same words."), seed=1, temperature=1.0)
    on.run([first])
    again = on.run([first.model_copy(update={"gen": first.gen.model_copy(update={"seed": 2})})])
    assert _reused(prefill_log()[-1]) == 0  # the same prompt again is another episode, not a continuation
    got = on.run([other])
    assert _reused(prefill_log()[-1]) == 0  # nor is the same text before another image
    follow = list(first.messages) + [Message.assistant(again[0].text), Message.user("Same words.")]
    on.run([_request(follow, seed=3, temperature=1.0)])
    assert _reused(prefill_log()[-1]) > _first_image_position(on, other)  # a continuation reuses the image too
    assert [r.text for r in got] == [r.text for r in off.run([other])]
    assert again[0].ok


@pytest.mark.parametrize("model_fixture", MODELS)
def test_edited_history_reuses_only_up_to_the_edit(model_fixture, request, store, prefill_log):
    path = request.getfixturevalue(model_fixture)
    on, off = _runner(path, store, 64), _runner(path, store, 0)
    history = _opening(store, 0)
    answer = on.run([_request(history, seed=1, temperature=1.0)])[0].text
    edited = list(history)
    _continue(history, answer, 1)
    _continue(edited, "I offer you nothing at all.", 1)
    req = _request(edited, seed=2, temperature=1.0)
    got = on.run([req])
    ids_true = on._encode([_request(history, 2, 1.0)])["input_ids"][0].tolist()
    ids_edit = on._encode([req])["input_ids"][0].tolist()
    common = next(i for i, (a, b) in enumerate(zip(ids_true, ids_edit)) if a != b)
    stats = prefill_log()[-1]
    assert 0 < _reused(stats) <= common
    assert [r.text for r in got] == [r.text for r in off.run([req])]


def _entry(n: int, nbytes: int) -> PrefixEntry:
    return PrefixEntry(keys=np.arange(n, dtype=np.int64) + 1000 * nbytes, prompt_len=n - 2,
                       batch=BatchKV([], nbytes, rows=1))


def test_store_is_a_byte_bounded_lru():
    store = PrefixStore(max_bytes=250)
    a, b, c, d = _entry(5, 100), _entry(5, 101), _entry(5, 102), _entry(5, 103)
    store.put(a)
    store.put(b)
    assert store.lookup(a.keys)[0] is a  # a is now the most recently used
    store.put(c)  # over budget: b, the least recently used, goes
    assert store.lookup(b.keys) == (None, 0)
    assert store.lookup(a.keys)[0] is a and store.lookup(c.keys)[0] is c
    store.put(d)
    assert store.lookup(a.keys) == (None, 0) and store.bytes <= 250 and store.evictions == 2
    store.put(_entry(3, 400))  # larger than the whole budget: not kept
    assert len(store) == 2 and store.bytes == 102 + 103
    longest, length = store.lookup(np.concatenate([d.keys[:3], [-5]]))
    assert longest is d and length == 3
    e = PrefixEntry(keys=np.arange(6, dtype=np.int64) + 7000, prompt_len=4, batch=BatchKV([], 10, rows=1))  # 2 generated
    store.put(e)
    assert store.lookup(np.concatenate([e.keys[:5], [-5]])) == (e, 5)  # runs into e's answer: reused
    assert store.lookup(np.concatenate([e.keys[:4], [-5]])) == (e, 4)  # e's prompt, then other words: reused
    assert store.lookup(e.keys[:4]) == (None, 0)  # e's prompt asked again (another episode): recomputed
    assert store.lookup(np.concatenate([e.keys[:3], [-5, -6]])) == (None, 0)  # part of e's prompt only


def test_lookup_finds_the_continuation_among_many_prompts_of_one_length():
    """Entries are indexed by their prompt: thousands of single-turn prompts of one length, a few of other
    lengths, and the longest continuation still wins; equal matches go to the least recently used."""
    store = PrefixStore(max_bytes=10**9)
    rng = np.random.default_rng(0)
    many = [PrefixEntry(rng.integers(0, 500, 12), 10, BatchKV([], 1, rows=1)) for _ in range(3000)]
    for e in many:
        store.put(e)
    target = many[1234]
    short = PrefixEntry(target.keys[:6].copy(), 5, BatchKV([], 1, rows=1))  # an earlier turn, shorter prompt
    store.put(short)
    asked = np.concatenate([target.keys[:11], [-9, -9]])  # repeats target's prompt, 1 answer token, goes on
    assert store.lookup(asked) == (target, 11)
    twin = PrefixEntry(np.concatenate([target.keys[:10], [7, 7]]), 10, BatchKV([], 1, rows=1))  # same prompt
    store.put(twin)
    assert store.lookup(np.concatenate([target.keys[:10], [-9]])) == (target, 10)  # tie: least recently used
    assert store.lookup(np.concatenate([target.keys[:10], [-9]])) == (twin, 10)  # target was just used
    store.discard(target)
    store.discard(twin)
    assert store.lookup(asked) == (short, 6)


def test_rows_of_one_batch_share_its_bytes_and_are_compacted_under_pressure():
    """Entries over one generate's cache copy nothing; its bytes count once while any row is stored, and
    when the budget is exceeded the rows still stored get their own copies before anything is evicted."""
    torch.manual_seed(0)
    layers = [(torch.randn(4, 2, 10, 3), torch.randn(4, 2, 10, 3)) for _ in range(2)]  # 4 rows, 10 positions
    batch = BatchKV.of(layers)
    cols = [np.array([2, 3, 4, 7]), np.array([0, 1, 5, 6, 8]), np.array([9]), np.array([1, 2])]
    entries = [PrefixEntry(np.arange(len(c), dtype=np.int64) + 100 * i, 1, batch, i, c) for i, c in enumerate(cols)]
    store = PrefixStore(max_bytes=batch.nbytes)
    for e in entries:
        store.put(e)
    assert store.bytes == batch.nbytes and len(store) == 4  # one batch, counted once
    for e in entries[1:]:
        store.discard(e)
    assert store.bytes == batch.nbytes  # entry 0 still pins the batch
    expected = [(k[0][:, cols[0]], v[0][:, cols[0]]) for k, v in layers]
    small = BatchKV.of([(k[:1, :, :3], v[:1, :, :3]) for k, v in layers])
    store.put(PrefixEntry(np.arange(3, dtype=np.int64) + 900, 1, small))
    assert store.evictions == 0 and len(store) == 2  # compaction made room: nothing was evicted
    assert entries[0].batch is not batch and store.bytes == entries[0].batch.nbytes + small.nbytes
    for layer, (k, v) in enumerate(expected):
        got_k, got_v = entries[0].layer(layer, 4)
        assert torch.equal(got_k, k) and torch.equal(got_v, v)


def test_rows_that_end_early_store_only_the_positions_written(tiny_llava, store, prefill_log):
    """A continued turn decodes into a cache sized for the longest answer allowed; rows that all stop at
    once leave most of it unwritten, and the store keeps (and counts) only the positions written."""
    runner = _runner(tiny_llava, store, 64)
    history = _opening(store, 0)
    first = runner.run([_request(history, seed=0, temperature=0.0)])[0]
    _continue(history, first.text, 1)
    model = runner._model
    model.generation_config.eos_token_id = list(range(model.config.text_config.vocab_size))  # any token ends
    req = Request(messages=tuple(history), gen=GenParams(max_tokens=256, temperature=0.0, seed=1))
    width = runner._encode([req])["input_ids"].shape[1]
    assert runner.run([req])[0].ok
    assert _reused(prefill_log()[-1]) > 0  # the second turn continued the first from the store
    assert runner._prefix is not None
    (entry,) = runner._prefix.store._entries.values()
    assert entry.batch.layers[0][0].shape[2] == width == len(entry.keys)
    assert runner._prefix.store.bytes == entry.batch.nbytes


def test_a_store_too_small_for_every_conversation_still_gives_the_same_tokens(tiny_llava, store):
    small = _runner(tiny_llava, store, 1)
    small._prefix.store.max_bytes = 60_000  # about one conversation of the tiny model
    got = _play(small, store, [0, 0, 0], 1.0)
    assert small._prefix.store.evictions > 0 and small._prefix.store.bytes <= 60_000
    assert got == _play(_runner(tiny_llava, store, 0), store, [0, 0, 0], 1.0)


def test_cache_size_is_not_part_of_the_fingerprint(tiny_llava, store):
    prints = {HFRunner(HFArgs(pretrained=str(tiny_llava), prefix_cache_mb=mb), store=store).fingerprint
              for mb in (0, 1, 2048)}
    assert len(prints) == 1


def test_models_whose_cache_is_not_plain_full_attention_fall_back():
    """Sliding-window layers drop old positions: reuse is refused (and generation runs without it)."""
    from transformers import MistralConfig, MistralForCausalLM

    cfg = MistralConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                        num_attention_heads=2, num_key_value_heads=1, sliding_window=8)
    assert "SlidingWindowLayer" in (reuse_blocker(MistralForCausalLM(cfg)) or "")
    cfg.sliding_window = None
    assert reuse_blocker(MistralForCausalLM(cfg)) is None


def test_a_static_cache_that_counts_non_zero_keys_is_refused(monkeypatch):
    """transformers < 5.4 measured a StaticCache by its non-zero keys; the zeros under reused prefixes' pads
    would shift every later position, so reuse is refused there."""
    from transformers import MistralConfig, MistralForCausalLM
    from transformers.cache_utils import StaticLayer

    model = MistralForCausalLM(MistralConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                                             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                             sliding_window=None))
    assert reuse_blocker(model) is None
    monkeypatch.setattr(StaticLayer, "get_seq_length",  # the older rule, as transformers 4.57-5.3 had it
                        lambda self: self.keys[0, 0].any(dim=-1).sum() if self.is_initialized else 0)
    assert "counts non-zero keys" in (reuse_blocker(model) or "")


def test_a_model_that_cannot_continue_from_the_store_generates_without_it(tiny_llava, store, monkeypatch, caplog):
    runner, plain = _runner(tiny_llava, store, 64), _runner(tiny_llava, store, 0)

    def unsupported(*args, **kwargs):
        raise TypeError("generate() got an unexpected keyword argument 'cache'")

    monkeypatch.setattr(runner._prefix, "generate", unsupported)
    caplog.set_level(logging.DEBUG, logger="vbench.runners.hf")
    reqs = [_request(_opening(store, i), seed=i, temperature=1.0) for i in range(2)]
    assert [r.text for r in runner.run(reqs)] == [r.text for r in plain.run(reqs)]
    assert runner._prefix is None and "prefix reuse off" in caplog.text


def test_ultimatum_games_play_the_same_with_reuse_on_and_off(tiny_llava, avatars, tmp_path):
    """End to end: a pair game at temperature 1, word for word, with and without prefix reuse."""
    import json

    import vbench

    transcripts = {}
    for mb in (0, 64):
        out = tmp_path / f"mb{mb}"
        vbench.evaluate(model="hf", model_args=f"pretrained={tiny_llava},device=cpu,prefix_cache_mb={mb}",
                        tasks=["ultimatum_pair"], dataset=str(avatars), limit=2, repeats=1, batch_size=8, seed=5,
                        output_path=out, gen_kwargs="temperature=1,max_tokens=12", use_cache=False,
                        show_progress=False)
        recs = [json.loads(line) for line in next(out.glob("*/ultimatum_pair/samples.jsonl")).read_text().splitlines()]
        transcripts[mb] = {r["episode_id"]: [t["response"] for t in r["turns"]] for r in recs}
    assert len(transcripts[0]) == 2 and all(len(t) >= 8 for t in transcripts[0].values())
    assert transcripts[0] == transcripts[64]
