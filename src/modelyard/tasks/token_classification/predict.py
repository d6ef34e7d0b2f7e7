"""NER inference: raw texts in, entities out as character spans with a label and a score.

A text is cut into words (``split_words``), the words into subwords by the
model's tokenizer; each word is read at its first subword (the subword it was
trained on), a word's type probabilities are pulled toward its other mentions in
the document when the model was trained with ``model.document_consistency``
(``consistency.harmonise``), the sentence's tags are the most probable valid IOB2
sequence (``decode.decode_tags``), and runs of B-/I- tags become spans. An entity's score
is the mean over its words of the chosen tag's probability.

The forward pass is a function of numpy inputs so that the same code runs a
torch model or an ONNX Runtime session (``runtime.OnnxTokenPredictor``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from modelyard.tasks.heads import load_tokenizer, model_settings
from modelyard.tasks.labels import LabelMap, scores_of
from modelyard.tasks.token_classification.consistency import harmonise
from modelyard.tasks.token_classification.context import subword_counter
from modelyard.tasks.token_classification.data import encoding_windows, first_subwords
from modelyard.tasks.token_classification.decode import decode_tags
from modelyard.tasks.token_classification.shapes import shape_ids
from modelyard.tasks.token_classification.tags import Word, split_words, tags_to_spans

Forward = Callable[[dict[str, NDArray[np.int64]]], NDArray[np.float32]]


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    label: str
    text: str
    score: float


class TokenPredictor:
    """Loads a version folder once; tags texts in batches of similar length."""

    def __init__(self, folder: Path, max_length: int = 256, *, forward: Forward | None = None) -> None:
        self.label_map = LabelMap.load(folder)
        self.tokenizer = load_tokenizer(folder)
        settings = model_settings(folder)
        self.case_features = settings.case_features
        self.document_context = settings.document_context
        self.document_consistency = settings.document_consistency
        self.max_length = max_length
        if forward is None:
            from modelyard.tasks.heads import load_trained

            self.model = load_trained(folder)
            forward = self._torch_forward
        self.forward = forward

    @torch.inference_mode()
    def _torch_forward(self, inputs: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        logits = self.model(**{name: torch.from_numpy(value) for name, value in inputs.items()}).logits
        return np.asarray(logits.float().numpy(), dtype=np.float32)

    def word_probabilities(
        self, sentences: list[list[str]], documents: list[str | None] | None = None, batch_size: int = 32
    ) -> list[NDArray[np.float32]]:
        """Per sentence a (words × tags) matrix; a word past ``max_length`` or without subwords gets a zero row.

        ``documents`` (one id per sentence, sentences in document order) lets a model trained with
        ``document_context`` read each sentence among its neighbours, as it was trained."""
        windows = encoding_windows(
            sentences, documents or [None] * len(sentences), self.tokenizer, self.max_length, self.document_context
        )
        order = sorted(range(len(sentences)), key=lambda i: len(windows[i].words))
        out: list[NDArray[np.float32]] = [np.zeros((0, 0), dtype=np.float32)] * len(sentences)
        n_tags = len(self.label_map.labels)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = self.tokenizer(
                [windows[i].words for i in chunk],
                is_split_into_words=True,
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="np",
            )
            if self.case_features:
                batch["token_type_ids"] = [
                    shape_ids(batch.word_ids(row), windows[i].words) for row, i in enumerate(chunk)
                ]
            inputs = {name: np.asarray(batch[name], dtype=np.int64) for name in self.input_names(batch)}
            probs = scores_of(self.forward(inputs), multi_label=False)
            for row, i in enumerate(chunk):
                matrix = np.zeros((len(sentences[i]), n_tags), dtype=np.float32)
                for position, word in first_subwords(batch.word_ids(row), windows[i].start, len(sentences[i])):
                    matrix[word] = probs[row, position]
                out[i] = matrix
        return out

    def input_names(self, batch: Any) -> list[str]:
        return [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in batch]

    def word_tags(
        self, sentences: list[list[str]], documents: list[str | None] | None = None, batch_size: int = 32
    ) -> list[list[str]]:
        """The IOB2 tag of every word, as ``entities`` reads them."""
        labels = self.label_map.labels
        return [
            [labels[i] for i in decode_tags(matrix, labels)]
            for matrix in self.text_word_probabilities(sentences, documents, batch_size)
        ]

    def text_word_probabilities(
        self, texts: list[list[str]], documents: list[str | None] | None = None, batch_size: int = 32
    ) -> list[NDArray[np.float32]]:
        """``word_probabilities`` for texts of any length: a text longer than ``max_length`` subwords is read
        again in pieces that fit, consecutive pieces of one document (each with its neighbours as context
        when the model was trained with ``document_context``), so no word goes untagged. ``documents`` as in
        ``word_probabilities``: texts of one document, in order, are read among each other. With
        ``document_consistency`` the mentions of a word in a document are then pulled toward each other."""
        matrices = self._whole_texts(texts, documents, batch_size)
        return harmonise(texts, documents, matrices, self.label_map.labels, self.document_consistency)

    def _whole_texts(
        self, texts: list[list[str]], documents: list[str | None] | None, batch_size: int
    ) -> list[NDArray[np.float32]]:
        matrices = self.word_probabilities(texts, documents, batch_size)
        # Truncation cuts from the end, so a long text's last word is the one that has no row.
        cut = [i for i, matrix in enumerate(matrices) if len(matrix) and not matrix[-1].any()]
        if not cut:
            return matrices
        count = subword_counter(self.tokenizer)
        budget = self.max_length - self.tokenizer.num_special_tokens_to_add(pair=False)
        pieces: list[list[str]] = []
        owners: list[int] = []
        for i in cut:
            for piece in _pieces(texts[i], count, budget):
                pieces.append(piece)
                owners.append(i)
        read: dict[int, list[NDArray[np.float32]]] = {i: [] for i in cut}
        tagged = self.word_probabilities(pieces, [str(i) for i in owners], batch_size)
        for owner, matrix in zip(owners, tagged, strict=True):
            read[owner].append(matrix)
        for i, parts in read.items():
            matrices[i] = np.concatenate(parts, axis=0)
        return matrices

    def entities(
        self, texts: list[str], documents: list[str | None] | None = None, batch_size: int = 32
    ) -> list[list[Entity]]:
        """The entities of each text as character spans, in text order. A model trained with
        ``document_context`` reads best with ``documents`` (one id per text; the texts of a document in
        order, e.g. its sentences): each text is then read among its neighbours, as in training."""
        words = [split_words(text) for text in texts]
        matrices = self.text_word_probabilities(
            [[t[s:e] for s, e in w] for t, w in zip(texts, words, strict=True)], documents, batch_size
        )
        return [
            self._spans(text, offsets, matrix) for text, offsets, matrix in zip(texts, words, matrices, strict=True)
        ]

    def _spans(self, text: str, words: list[Word], matrix: NDArray[np.float32]) -> list[Entity]:
        if not words:
            return []
        chosen = decode_tags(matrix, self.label_map.labels)
        tags = [self.label_map.labels[i] for i in chosen]
        best = matrix[np.arange(len(chosen)), chosen]
        found = []
        for span in tags_to_spans(words, tags):
            inside = [i for i, (s, e) in enumerate(words) if s >= span.start and e <= span.end]
            score = float(np.mean(best[inside])) if inside else 0.0
            found.append(Entity(span.start, span.end, span.label, text[span.start : span.end], round(score, 6)))
        return found

    def predict(self, texts: list[str], top_k: int = 3, batch_size: int = 32) -> list[list[Entity]]:
        """The same call as the classifier's (``top_k`` has no meaning for entities)."""
        return self.entities(texts, batch_size=batch_size)

    def serve(self, texts: list[str]) -> list[list[Entity]]:
        return self.entities(texts)


def _pieces(words: list[str], subwords: Callable[[str], int], budget: int) -> list[list[str]]:
    """Consecutive runs of ``words`` of at most ``budget`` subwords each (a longer word alone is one run)."""
    pieces: list[list[str]] = [[]]
    used = 0
    for word in words:
        cost = subwords(word)
        if pieces[-1] and used + cost > budget:
            pieces.append([])
            used = 0
        pieces[-1].append(word)
        used += cost
    return pieces
