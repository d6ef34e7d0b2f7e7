"""Token attributions: how much each word of a text moved the model toward a label.

Method: Integrated Gradients (Sundararajan et al., 2017) with Captum's ``LayerIntegratedGradients``
on the word-embedding layer. The path runs from a baseline — the same token sequence with every
token replaced by [PAD], [CLS]/[SEP] kept, positions and attention mask unchanged — to the input;
a token's attribution is its embedding difference dotted with the gradient averaged along the path
(``n_steps`` Gauss-Legendre points). The attributed value is the target's *logit*: for a class,
its logit; for an entity, the sum of its words' tag logits on their first subwords (the subword
each word is trained and predicted on). Completeness: the scores sum to
``target(input) − target(baseline)`` up to ``delta`` (reported; it shrinks as ``n_steps`` grows).

Subword scores are summed per word (words as ``split_words`` cuts them, with character offsets),
so word scores keep completeness. [CLS]/[SEP] equal their baseline and score exactly 0.

Latency: an explanation costs the forward pass that finds its target(s), then about
``unit × n_steps × targets × tokens``; ``unit`` is measured at load and refreshed after every
explanation. Given ``budget_ms``, an explanation whose estimate (the time already spent plus the
steps) exceeds it runs with fewer steps (down to ``MIN_STEPS``) and says so
(``n_steps`` used, ``requested_steps``, ``within_budget``). Without ``budget_ms`` the steps are
never changed, so the same text and settings give the same scores bit for bit (eval mode, no
dropout, the same batch shapes); the response still states the default budget and whether the
explanation kept to it. Texts are user data: nothing here logs them.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from modelyard.errors import DataError
from modelyard.tasks.labels import LabelMap
from modelyard.tasks.token_classification.consistency import harmonise
from modelyard.tasks.token_classification.decode import decode_tags
from modelyard.tasks.token_classification.shapes import shape_ids
from modelyard.tasks.token_classification.tags import Word, split_words, tags_to_spans

METHOD = "integrated-gradients"
DEFAULT_STEPS = 32
"""Gauss-Legendre points; on Banking77 texts the mean |delta| is already small here (benchmarks/explain.py)."""
MIN_STEPS = 4
"""The fewest steps a budget can cut an explanation down to."""
MAX_STEPS = 512
DEFAULT_BUDGET_MS = 1000.0
"""The latency stated for an explanation when the caller states none."""
TOKENS_PER_BATCH = 4096
"""Interpolated tokens per forward/backward pass (bounds memory on long texts)."""


@dataclass(frozen=True)
class TokenScore:
    token: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class WordScore:
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Attribution:
    """The scores toward one target: a class (classification) or one entity (NER)."""

    label: str
    probability: float
    """Classification: the label's probability. NER: the mean probability of the entity's word tags."""
    delta: float
    """Convergence delta: sum of scores − (target(input) − target(baseline)), in logits."""
    words: list[WordScore]
    tokens: list[TokenScore]
    span: tuple[int, int] | None = None
    """NER: the entity's character span."""


@dataclass(frozen=True)
class Explanation:
    task: str
    method: str
    attributions: list[Attribution]
    n_steps: int
    requested_steps: int
    elapsed_ms: float
    estimated_ms: float
    budget_ms: float
    within_budget: bool
    truncated: bool
    """The text was longer than the model's ``max_length``: words past it were not seen and score 0."""


@dataclass
class _Encoded:
    inputs: dict[str, torch.Tensor]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    """Character offsets of each token in the text; (0, 0) for special tokens."""
    token_words: list[int | None]
    """The word index of each token (None for special tokens)."""
    words: list[Word]
    truncated: bool
    special: list[bool] = field(default_factory=list)


class Explainer:
    """A torch model version held for explanations; ``explain`` is thread-safe (one at a time)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        label_map: LabelMap,
        task: str,
        max_length: int,
        *,
        case_features: bool = False,
        document_consistency: float = 0.0,
    ) -> None:
        from captum.attr import LayerIntegratedGradients

        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)  # gradients flow to the embedding output only
        self.tokenizer = tokenizer
        self.label_map = label_map
        self.task = task
        self.max_length = max_length
        self.case_features = case_features
        """NER trained with ``model.case_features``: word shapes go in as token types, as in prediction."""
        self.document_consistency = document_consistency
        """NER: a word's mentions in the text are pulled toward each other before decoding, as in prediction."""
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._names: tuple[str, ...] = ()
        self._ig = LayerIntegratedGradients(self._forward, self.model.get_input_embeddings())
        self._lock = threading.Lock()
        self.overhead_ms = 0.0
        self.unit_ms = 0.0
        """Measured milliseconds per (step × target × token)."""
        self._calibrate()

    @classmethod
    def load(cls, folder: Path, max_length: int) -> Explainer:
        from modelyard.tasks.heads import load_tokenizer, load_trained, model_settings, task_of

        settings = model_settings(folder)
        return cls(
            load_trained(folder),
            load_tokenizer(folder),
            LabelMap.load(folder),
            task_of(folder).name,
            max_length,
            case_features=settings.case_features,
            document_consistency=settings.document_consistency,
        )

    # -- the model as Captum sees it -------------------------------------------------------------

    def _forward(self, input_ids: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        """One scalar per row: the logits weighted by the row's target weights (the last extra)."""
        *others, weights = extra
        logits = self.model(input_ids=input_ids, **dict(zip(self._names, others, strict=True))).logits
        return (logits * weights).flatten(1).sum(1)

    def _logits(self, encoded: _Encoded) -> torch.Tensor:
        with torch.no_grad():
            logits: torch.Tensor = self.model(**encoded.inputs).logits[0]
        return logits

    # -- encoding ----------------------------------------------------------------------------------

    def _encode(self, text: str) -> _Encoded:
        words = split_words(text)
        if self.task == "token-classification":
            # As TokenPredictor does: the words are tokenized one by one, each labelled on its first subword.
            batch = self.tokenizer(
                [text[s:e] for s, e in words],
                is_split_into_words=True,
                truncation=True,
                max_length=self.max_length,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            token_words = list(batch.word_ids(0))
            if self.case_features:
                batch["token_type_ids"] = torch.tensor([shape_ids(token_words, [text[s:e] for s, e in words])])
            offsets = [
                (words[w][0] + int(a), words[w][0] + int(b)) if w is not None else (0, 0)
                for w, (a, b) in zip(token_words, batch["offset_mapping"][0].tolist(), strict=True)
            ]
        else:
            batch = self.tokenizer(
                text, truncation=True, max_length=self.max_length, return_offsets_mapping=True, return_tensors="pt"
            )
            special_ids = set(self.tokenizer.all_special_ids)
            ids = batch["input_ids"][0].tolist()
            offsets = [(int(a), int(b)) for a, b in batch["offset_mapping"][0].tolist()]
            starts = [s for s, _ in words]
            token_words = []
            for token_id, (start, end) in zip(ids, offsets, strict=True):
                if token_id in special_ids or end <= start:
                    token_words.append(None)
                else:  # the word holding the token's first character
                    token_words.append(max(0, bisect.bisect_right(starts, start) - 1))
        ids = batch["input_ids"][0].tolist()
        full = self.tokenizer(
            [text[s:e] for s, e in words] if self.task == "token-classification" else text,
            is_split_into_words=self.task == "token-classification",
        )
        inputs = {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids") if name in batch}
        return _Encoded(
            inputs=inputs,
            tokens=self.tokenizer.convert_ids_to_tokens(ids),
            offsets=offsets,
            token_words=token_words,
            words=words,
            truncated=len(full["input_ids"]) > len(ids),
            special=[w is None for w in token_words],
        )

    # -- targets -------------------------------------------------------------------------------------

    def _classification_target(self, logits: torch.Tensor, label: str | None) -> tuple[str, float, torch.Tensor]:
        labels = self.label_map.labels
        if label is None:
            index = int(logits.argmax())
        elif label in self.label_map.label2id:
            index = self.label_map.label2id[label]
        else:
            shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
            raise DataError(f"label {label!r} is not one the model knows ({len(labels)} labels: {shown})")
        probs = torch.sigmoid(logits) if self.label_map.multi_label else torch.softmax(logits, dim=-1)
        weights = torch.zeros_like(logits)
        weights[index] = 1.0
        return labels[index], float(probs[index]), weights

    def _entity_targets(
        self, text: str, encoded: _Encoded, logits: torch.Tensor, label: str | None, span: tuple[int, int] | None
    ) -> list[tuple[str, float, torch.Tensor, tuple[int, int] | None]]:
        """(entity type, mean tag probability, (tokens × tags) weights, span) per entity to explain."""
        tags = self.label_map.labels
        probs = torch.softmax(logits, dim=-1)
        first: dict[int, int] = {}  # word -> its first subword position
        for position, word in enumerate(encoded.token_words):
            if word is not None and word not in first:
                first[word] = position
        words = encoded.words
        # Read as TokenPredictor reads, so the entities and scores explained are the ones predict returns.
        read = np.zeros((len(words), len(tags)), dtype=np.float32)
        for w, position in first.items():
            read[w] = probs[position].numpy()
        [read] = harmonise([[text[s:e] for s, e in words]], None, [read], tags, self.document_consistency)
        chosen_tags: list[int] = []  # the decoded tag of every word, when explaining what the model found
        if span is None:
            if label is not None:
                raise DataError(f"to explain toward {label!r}, give the entity's character span too (start and end)")
            chosen_tags = decode_tags(read, tags)
            predicted = [tags[i] for i in chosen_tags]
            wanted: list[tuple[tuple[int, int], str, list[int] | None]] = [
                ((s.start, s.end), s.label, None) for s in tags_to_spans(words, predicted)
            ]
        else:
            start, end = span
            inside = [w for w, (s, e) in enumerate(words) if s < end and e > start and w in first]
            if not inside:
                raise DataError(f"the span [{start}, {end}) covers no word the model saw; give word-aligned offsets")
            kinds = sorted({tag.partition("-")[2] for tag in tags if tag != "O"})
            if label is not None and label not in kinds:
                raise DataError(f"label {label!r} is not an entity type of this model (types: {', '.join(kinds)})")
            if label is None:  # the type the model finds likeliest for these words
                label = max(kinds, key=lambda k: self._type_score(read, inside, k))
            wanted = [((words[inside[0]][0], words[inside[-1]][1]), label, inside)]
        targets: list[tuple[str, float, torch.Tensor, tuple[int, int] | None]] = []
        index = self.label_map.label2id
        for (start, end), kind, chosen in wanted:
            members = chosen if chosen is not None else [w for w, (s, e) in enumerate(words) if s >= start and e <= end]
            members = [w for w in members if w in first]
            weights = torch.zeros_like(logits)
            scores = []
            for n, w in enumerate(members):
                if chosen is None:  # a predicted entity: the tags the model chose
                    tag = chosen_tags[w]
                else:
                    tag = index.get(f"{'B' if n == 0 else 'I'}-{kind}", index.get(f"B-{kind}", 0))
                weights[first[w], tag] = 1.0
                scores.append(float(read[w, tag]))
            targets.append((kind, float(np.mean(scores)) if scores else 0.0, weights, (start, end)))
        return targets

    def _type_score(self, read: NDArray[np.float32], inside: list[int], kind: str) -> float:
        index = self.label_map.label2id
        total = 0.0
        for n, w in enumerate(inside):
            tag = f"{'B' if n == 0 else 'I'}-{kind}"
            total += float(read[w, index[tag]]) if tag in index else 0.0
        return total

    # -- attribution ---------------------------------------------------------------------------------

    def _attribute(self, encoded: _Encoded, weights: torch.Tensor, n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(targets × tokens) scores and the convergence delta per target."""
        count = weights.shape[0]
        length = encoded.inputs["input_ids"].shape[1]
        input_ids = encoded.inputs["input_ids"].expand(count, -1)
        special = torch.tensor(encoded.special, dtype=torch.bool)
        baseline = torch.where(special, input_ids, torch.full_like(input_ids, self.pad_id))
        self._names = tuple(name for name in encoded.inputs if name != "input_ids")
        extra = tuple(encoded.inputs[name].expand(count, -1) for name in self._names)
        batch = max(count, min(n_steps * count, TOKENS_PER_BATCH // max(1, length)))
        with torch.enable_grad():
            scores, delta = self._ig.attribute(
                input_ids,
                baselines=baseline,
                additional_forward_args=(*extra, weights),
                n_steps=n_steps,
                internal_batch_size=batch,
                return_convergence_delta=True,
            )
        return scores.sum(dim=-1).detach(), delta.detach()

    def estimate_ms(self, n_steps: int, targets: int, tokens: int) -> float:
        return self.overhead_ms + self.unit_ms * n_steps * targets * tokens

    def _calibrate(self) -> None:
        """Measure the cost per step on a short dummy sequence (the first run also warms up)."""
        encoded = self._encode("calibration text of about ten words to time a step")
        width = len(self.label_map.labels)
        shape = (1, width) if self.task == "text-classification" else (1, len(encoded.tokens), width)
        weights = torch.zeros(shape)
        weights[..., 0] = 1.0
        for _ in range(2):
            started = time.perf_counter()
            self._logits(encoded)
            forward_ms = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            self._attribute(encoded, weights, 8)
            step_ms = (time.perf_counter() - started) * 1000
        self.overhead_ms = forward_ms
        self.unit_ms = step_ms / (8 * len(encoded.tokens))

    def explain(
        self,
        text: str,
        label: str | None = None,
        *,
        n_steps: int | None = None,
        budget_ms: float | None = None,
        span: tuple[int, int] | None = None,
    ) -> Explanation:
        """Attributions toward ``label`` (default: the predicted label; NER: every predicted entity,
        or the entity at ``span`` as ``label`` or its likeliest type)."""
        if not text.strip():
            raise DataError("the text to explain is empty or whitespace-only")
        requested = DEFAULT_STEPS if n_steps is None else n_steps
        if not 1 <= requested <= MAX_STEPS:
            raise DataError(f"n_steps must be between 1 and {MAX_STEPS}; got {requested}")
        if budget_ms is not None and budget_ms <= 0:
            raise DataError(f"budget_ms must be positive; got {budget_ms}")
        if span is not None and self.task != "token-classification":
            raise DataError("a span (start, end) applies to NER models only; this model classifies whole texts")
        with self._lock:
            started = time.perf_counter()
            encoded = self._encode(text)
            logits = self._logits(encoded)
            if self.task == "token-classification":
                targets = self._entity_targets(text, encoded, logits, label, span)
            else:
                name, probability, weights = self._classification_target(logits, label)
                targets = [(name, probability, weights, None)]
            tokens = len(encoded.tokens)
            spent = (time.perf_counter() - started) * 1000  # tokenizing and the forward pass are behind us
            per_step = self.unit_ms * len(targets) * tokens
            steps = requested
            if budget_ms is not None and spent + per_step * steps > budget_ms:
                fits = int((budget_ms - spent) // per_step) if per_step > 0 else requested
                steps = max(MIN_STEPS, min(requested, fits))
            estimated = spent + per_step * steps
            attributions = []
            if targets:
                attribute_started = time.perf_counter()
                weights = torch.stack([t[2] for t in targets])
                scores, delta = self._attribute(encoded, weights, steps)
                attribute_ms = (time.perf_counter() - attribute_started) * 1000
                measured = attribute_ms / (steps * len(targets) * tokens)
                self.unit_ms = 0.5 * self.unit_ms + 0.5 * measured  # follows the machine's current load
                for (name, probability, _, entity), row, gap in zip(targets, scores, delta, strict=True):
                    attributions.append(self._scored(encoded, text, name, probability, row, float(gap), entity))
            elapsed = (time.perf_counter() - started) * 1000
        stated = DEFAULT_BUDGET_MS if budget_ms is None else float(budget_ms)
        return Explanation(
            task=self.task,
            method=METHOD,
            attributions=attributions,
            n_steps=steps,
            requested_steps=requested,
            elapsed_ms=round(elapsed, 2),
            estimated_ms=round(estimated, 2),
            budget_ms=stated,
            within_budget=elapsed <= stated,
            truncated=encoded.truncated,
        )

    def _scored(
        self,
        encoded: _Encoded,
        text: str,
        label: str,
        probability: float,
        row: torch.Tensor,
        delta: float,
        span: tuple[int, int] | None,
    ) -> Attribution:
        values = row.tolist()
        per_word = [0.0] * len(encoded.words)
        tokens = []
        for token, (start, end), word, value in zip(
            encoded.tokens, encoded.offsets, encoded.token_words, values, strict=True
        ):
            if word is None:
                continue  # [CLS]/[SEP]/[PAD]: equal to the baseline, exactly 0
            per_word[word] += value
            tokens.append(TokenScore(token, start, end, round(value, 6)))
        words = [
            WordScore(s, e, text[s:e], round(score, 6)) for (s, e), score in zip(encoded.words, per_word, strict=True)
        ]
        return Attribution(label, round(probability, 6), round(delta, 6), words, tokens, span)


def explain(
    ref: str,
    text: str,
    label: str | None = None,
    *,
    n_steps: int | None = None,
    budget_ms: float | None = None,
    span: tuple[int, int] | None = None,
) -> tuple[Any, Explanation]:
    """Explain one prediction of the registered version ``ref`` (files verified first); the version too."""
    from modelyard import registry
    from modelyard.artifacts import verify_manifest

    version = registry.get(ref)
    verify_manifest(version.path)
    explainer = Explainer.load(version.path, int(version.config["model"]["max_length"]))
    return version, explainer.explain(text, label, n_steps=n_steps, budget_ms=budget_ms, span=span)
