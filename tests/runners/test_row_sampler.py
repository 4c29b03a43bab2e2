"""The per-row sampler: draws follow the warped distribution, and a row's tokens are its own."""
import torch
from scipy.stats import chisquare

from vbench.runners.row_sampler import RowSeededSampler


def _pick(sampler: RowSeededSampler, logits: torch.Tensor) -> torch.Tensor:
    out = sampler(torch.zeros((logits.shape[0], 1), dtype=torch.long), logits)
    assert bool(((out == 0) | (out == float("-inf"))).all()) and bool(((out == 0).sum(dim=1) == 1).all())
    return out.argmax(dim=1)


def test_draws_follow_the_tempered_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -30.0]])
    temperature = 0.7
    expected = torch.softmax(logits[0] / temperature, dim=0).double().numpy()
    n = 6000
    sampler = RowSeededSampler(range(n), temperature, 1.0, max_steps=1)
    picks = _pick(sampler, logits.repeat(n, 1))
    counts = torch.bincount(picks, minlength=5).double().numpy()
    assert counts[4] == 0  # a token of negligible mass is never drawn
    assert chisquare(counts[:4], expected[:4] / expected[:4].sum() * n).pvalue > 1e-3


def test_top_p_tokens_outside_the_nucleus_are_never_drawn():
    logits = torch.tensor([[3.0, 2.5, 0.0, -0.5]]).repeat(2000, 1)
    picks = _pick(RowSeededSampler(range(2000), 1.0, 0.8, max_steps=1), logits)
    assert set(picks.tolist()) == {0, 1}


def test_a_rows_tokens_depend_only_on_its_seed_and_logits():
    torch.manual_seed(0)
    steps = 20
    logits = torch.randn(steps, 8, 50)
    alone = RowSeededSampler([11], 1.0, 0.95, max_steps=steps)
    crowd = RowSeededSampler([5, 11, 7, 3, 99, 1, 2, 4], 1.0, 0.95, max_steps=3)  # fewer steps announced
    seq_alone = [int(_pick(alone, logits[t, 1:2])[0]) for t in range(steps)]
    seq_crowd = [int(_pick(crowd, logits[t])[1]) for t in range(steps)]
    assert seq_alone == seq_crowd
    other_seed = RowSeededSampler([12], 1.0, 0.95, max_steps=steps)
    assert [int(_pick(other_seed, logits[t, 1:2])[0]) for t in range(steps)] != seq_alone
