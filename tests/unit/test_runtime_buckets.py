"""Length buckets of the ONNX runtime: every text in exactly one bucket, padding bounded, sizes capped."""

from __future__ import annotations

import random

import pytest

from modelyard.runtime import length_buckets


@pytest.mark.parametrize("seed", range(20))
def test_buckets_cover_in_order_with_bounded_padding(seed: int) -> None:
    rng = random.Random(seed)
    lengths = sorted(rng.randint(3, 64) for _ in range(rng.randint(1, 80)))
    buckets = length_buckets(lengths, max_size=16)
    assert [i for b in buckets for i in range(len(lengths))[b]] == list(range(len(lengths)))
    for bucket in buckets:
        run = lengths[bucket]
        assert 1 <= len(run) <= 16
        assert run[-1] <= 1.25 * run[0] + 2


def test_edge_cases() -> None:
    assert length_buckets([], max_size=8) == []
    assert length_buckets([5] * 10, max_size=4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert length_buckets([4, 40], max_size=8) == [slice(0, 1), slice(1, 2)]
