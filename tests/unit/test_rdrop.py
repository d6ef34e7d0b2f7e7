"""The R-Drop consistency term: symmetric KL between two passes, over what carries a label."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from modelyard import rdrop


def _symmetric_kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    log_p, log_q = F.log_softmax(p_logits, -1), F.log_softmax(q_logits, -1)
    forward = F.kl_div(log_q, log_p, log_target=True, reduction="none").sum(-1)  # KL(p || q)
    backward = F.kl_div(log_p, log_q, log_target=True, reduction="none").sum(-1)
    return 0.5 * (forward + backward)


def test_doubled_stacks_tensors_and_leaves_the_rest() -> None:
    batch = {"input_ids": torch.tensor([[1, 2], [3, 4]]), "flag": "kept"}
    twice = rdrop.doubled(batch)
    assert twice["input_ids"].tolist() == [[1, 2], [3, 4], [1, 2], [3, 4]]
    assert twice["flag"] == "kept"


def test_single_label_term_is_the_mean_symmetric_kl_and_zero_for_equal_passes() -> None:
    generator = torch.Generator().manual_seed(0)
    first, second = torch.randn(4, 5, generator=generator), torch.randn(4, 5, generator=generator)
    labels = torch.tensor([0, 1, 2, 3])
    term = rdrop.consistency(torch.cat([first, second]), labels)
    assert torch.allclose(term, _symmetric_kl(first, second).mean())
    assert torch.allclose(rdrop.consistency(torch.cat([second, first]), labels), term)  # symmetric
    assert rdrop.consistency(torch.cat([first, first]), labels).item() == 0.0


def test_token_term_skips_ignored_positions() -> None:
    generator = torch.Generator().manual_seed(1)
    first, second = torch.randn(2, 3, 4, generator=generator), torch.randn(2, 3, 4, generator=generator)
    labels = torch.tensor([[-100, 1, 2], [0, -100, -100]])
    per_token = _symmetric_kl(first, second)
    expected = per_token[labels != -100].mean()
    assert torch.allclose(rdrop.consistency(torch.cat([first, second]), labels), expected)
    nothing_scored = rdrop.consistency(torch.cat([first, second]), torch.full((2, 3), -100))
    assert nothing_scored.item() == 0.0


def test_multi_label_term_is_bernoulli_kl_per_label() -> None:
    first = torch.tensor([[2.0, -1.0]])
    second = torch.tensor([[0.0, 1.0]])
    labels = torch.tensor([[1.0, 0.0]])

    def bernoulli_kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        p, q = torch.sigmoid(a), torch.sigmoid(b)
        return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))

    expected = 0.5 * (bernoulli_kl(first, second) + bernoulli_kl(second, first)).mean()
    assert torch.allclose(rdrop.consistency(torch.cat([first, second]), labels), expected)
    # Saturated sigmoids stay finite (log space).
    extreme = rdrop.consistency(torch.tensor([[60.0], [-60.0]]), torch.tensor([[1.0]]))
    assert torch.isfinite(extreme) and extreme.item() > 50
