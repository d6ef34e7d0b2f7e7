"""One name, one reading per document: pull a word's entity type toward its other mentions.

A name that recurs in an article is nearly always the same kind of entity each time
(the club in the headline and in the match report), yet the model reads every
mention in its own sentence, and a mention in a thin context ("Lens 2 Metz 1") can
come out as another type, or as no entity, where its other mentions are clear. With
``model.document_consistency: w`` each word's type probabilities — per entity type X
the sum of ``B-X`` and ``I-X``, and ``O`` — move by the share ``w`` toward their mean
over every mention of the same word (the exact string, letter case kept) in the same
document, itself included; each mention keeps its own ``B-``/``I-`` split, and decoding runs after.
Non-local consistency is an old idea in CoNLL NER (Krishnan & Manning 2006; Ratinov &
Roth 2009); here it is a step on the softmax output with nothing to learn, which is
why it is a few numpy lines of our own rather than a library.

Measured on CoNLL-2003 with the recipe's model trained on the official train split
only: validation entity F1 0.9388 → 0.9418 at ``w = 0.75``, chosen there among
0, 0.25, 0.5, 0.75 and 1; the same model's official test 0.8945 → 0.8993.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def _group_of(tag: str) -> str:
    return tag[2:] if tag[:2] in ("B-", "I-") else tag


def _groups(labels: Sequence[str]) -> NDArray[np.float64]:
    """(tags × groups) 0/1 matrix: ``B-X`` and ``I-X`` belong to group X, any other tag to its own group."""
    names = list(dict.fromkeys(_group_of(tag) for tag in labels))
    member = np.zeros((len(labels), len(names)))
    for row, tag in enumerate(labels):
        member[row, names.index(_group_of(tag))] = 1.0
    return member


def harmonise(
    words: Sequence[Sequence[str]],
    documents: Sequence[str | None] | None,
    matrices: Sequence[NDArray[np.float32]],
    labels: Sequence[str],
    weight: float,
) -> list[NDArray[np.float32]]:
    """``matrices`` (per text, words × tags) with every repeated word's type probabilities moved by
    ``weight`` toward their mean over its mentions in the document. ``documents`` gives one id per text;
    a text with ``None`` (or no ``documents`` at all) is a document of its own. Words the model did not
    read (all-zero rows) neither count nor change; rows still sum to 1."""
    if weight <= 0:
        return list(matrices)
    out = [np.array(matrix, dtype=np.float32, copy=True) for matrix in matrices]
    member = _groups(labels)
    starts = (member * (member.cumsum(axis=0) == 1)).sum(axis=1)  # 1 on each group's first tag (B-X)
    mentions: dict[tuple[object, str], list[tuple[int, int]]] = defaultdict(list)
    for text, text_words in enumerate(words):
        document: object = documents[text] if documents is not None and documents[text] is not None else text
        for position, word in enumerate(text_words):
            if position < len(matrices[text]) and matrices[text][position].any():
                mentions[(document, word)].append((text, position))
    for places in mentions.values():
        if len(places) < 2:
            continue
        rows = np.stack([matrices[text][position] for text, position in places]).astype(np.float64)
        types = rows @ member
        moved = (1 - weight) * types + weight * types.mean(axis=0)
        # Each tag keeps its share of its group; a group the mention gave nothing to starts at its first tag.
        group_mass = types @ member.T
        within = np.divide(rows, group_mass, out=np.zeros_like(rows), where=group_mass > 0)
        empty = group_mass == 0
        within[empty] = np.broadcast_to(starts, rows.shape)[empty]
        updated = within * (moved @ member.T)
        for (text, position), row in zip(places, updated, strict=True):
            out[text][position] = row
    return out
