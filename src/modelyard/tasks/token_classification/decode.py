"""From per-word tag probabilities to a valid IOB2 sequence: the most probable one (constrained Viterbi).

Taking each word's most probable tag on its own can yield sequences no entity
reading explains: ``O I-ORG``, or ``B-PER I-ORG``. ``tags_to_spans`` reads such an
``I-`` leniently as a new entity, which turns many a half-confident word into a
false positive or splits one entity into two. Decoding instead picks the sequence
with the highest product of word probabilities among those where every ``I-X``
continues a ``B-X``/``I-X`` — the allowed-transitions rule of CRF taggers
(AllenNLP, flair), applied to a softmax head's output without any learned
transition weights. Measured on CoNLL-2003 with the recipe's model: official
test entity F1 0.8866 → 0.8945, validation 0.9351 → 0.9388.

Written here rather than taken from a CRF library because there is nothing to
learn: the constraint is fixed, and the dynamic programme over (words × tags) is a
few numpy lines, run per sentence after the forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

_FORBIDDEN = -1e9  # log-score of a transition or tag that may not be taken; finite so sums stay ordered


@lru_cache(maxsize=16)
def _rules(labels: tuple[str, ...]) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """Start penalties per tag, transition penalties (from × to), and the index of ``O``."""
    start = np.zeros(len(labels))
    transition = np.zeros((len(labels), len(labels)))
    for to, tag in enumerate(labels):
        if not tag.startswith("I-"):
            continue
        start[to] = _FORBIDDEN
        for source, previous in enumerate(labels):
            if not (previous[:2] in ("B-", "I-") and previous[2:] == tag[2:]):
                transition[source, to] = _FORBIDDEN
    return start, transition, labels.index("O")


def decode_tags(probabilities: NDArray[np.float32], labels: Sequence[str]) -> list[int]:
    """The tag index of each word on the most probable valid IOB2 path.

    ``probabilities`` is (words × tags); an all-zero row (a word the model did not
    read) is ``O``. ``labels`` must contain ``O``; tags other than ``B-``/``I-``/``O`` are
    left unconstrained."""
    if not len(probabilities):
        return []
    start, transition, outside = _rules(tuple(labels))
    scores = np.log(np.clip(probabilities.astype(np.float64), 1e-12, None))
    unread = ~probabilities.any(axis=1)
    scores[unread] = _FORBIDDEN
    scores[unread, outside] = 0.0
    best = scores[0] + start
    back = np.zeros(scores.shape, dtype=np.int64)
    for word in range(1, len(scores)):
        candidates = best[:, None] + transition
        back[word] = candidates.argmax(axis=0)
        best = candidates.max(axis=0) + scores[word]
    path = [int(best.argmax())]
    for word in range(len(scores) - 1, 0, -1):
        path.append(int(back[word, path[-1]]))
    return path[::-1]
