"""Score texts with a version's exported ONNX model on ONNX Runtime (CPU).

``OnnxPredictor`` has the interface of ``tasks.text_classification.predict.Predictor``
(``label_map``, ``probabilities``, ``predict``) so the server can use either. It
reads ``export.json`` first and refuses an export whose parity check failed:
such a file is kept for inspection, never served.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from modelyard import registry
from modelyard.artifacts import verify_manifest
from modelyard.errors import ModelLoadError
from modelyard.tasks.heads import load_tokenizer
from modelyard.tasks.labels import LabelMap, scores_of
from modelyard.tasks.text_classification.predict import Scored, top_labels
from modelyard.tasks.token_classification.predict import TokenPredictor

EXPORT_RECORD = "export.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the host's count, inside containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def inference_session(model_file: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session with all graph optimisations and one intra-op thread per core."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or available_cores()
    # One request runs one graph; parallelism comes from the intra-op pool, not from running nodes side by side.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors (bad file, unknown op, ...)
        raise ModelLoadError(f"ONNX Runtime cannot load {model_file}: {error}") from None


def passed_parity(record: dict[str, Any], file: str) -> bool:
    """Whether ``file`` of an export passed its parity check (records without per-file figures: ``usable``)."""
    figures = record.get("parity", {}).get(file)
    return bool(figures["passed"]) if figures is not None else bool(record.get("usable"))


def exported_file(folder: Path, record: dict[str, Any], int8: bool | None, *, allow_unusable: bool = False) -> Path:
    """The exported file to load: int8 (True), fp32 (False) or the one the export serves (None), checked
    to exist and to have passed its parity check unless ``allow_unusable``."""
    file = {None: str(record.get("served_file", INT8_FILE)), True: INT8_FILE, False: FP32_FILE}[int8]
    if file not in record.get("sizes", {}):
        raise ModelLoadError(f"{folder} was exported without {file}; run `modelyard export` with --quantize int8")
    if not passed_parity(record, file) and not allow_unusable:
        raise ModelLoadError(
            f"{file} in {folder} failed its parity check ({'; '.join(record.get('failures', []))}); "
            "it is kept for inspection but not served — retrain, or export with --quantize none"
        )
    return folder / file


def read_export_record(folder: Path) -> dict[str, Any]:
    """The ``export.json`` of a version folder, or a ModelLoadError that says how to make one."""
    path = folder / EXPORT_RECORD
    if not path.is_file():
        raise ModelLoadError(f"{folder} has no ONNX export; run `modelyard export NAME:VERSION` first")
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record


class OnnxPredictor:
    """Loads an exported model once; scores texts in length-sorted batches like ``Predictor``."""

    def __init__(
        self,
        folder: Path,
        int8: bool | None = None,
        *,
        max_length: int | None = None,
        threads: int | None = None,
        allow_unusable: bool = False,
    ) -> None:
        """``int8``: True for model.int8.onnx, False for model.onnx, None (default) for the file the export serves
        (int8 unless it was exported with ``--quantize none``). ``threads``: intra-op threads, default one per core.
        """
        record = read_export_record(folder)
        model_file = exported_file(folder, record, int8, allow_unusable=allow_unusable)
        self._setup(model_file, folder, max_length or int(record["max_length"]), threads)

    @classmethod
    def from_file(cls, model_file: Path, folder: Path, *, max_length: int, threads: int | None = None) -> OnnxPredictor:
        """A predictor on any ONNX file with the tokenizer and label map of ``folder`` (no export.json needed)."""
        predictor = cls.__new__(cls)
        predictor._setup(model_file, folder, max_length, threads)
        return predictor

    def _setup(self, model_file: Path, folder: Path, max_length: int, threads: int | None) -> None:
        self.model_file = model_file
        self.label_map = LabelMap.load(folder)
        self.tokenizer = load_tokenizer(folder)
        self.max_length = max_length
        self.threads = threads or available_cores()
        self.session = inference_session(model_file, self.threads)
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.pad_id = int(self.tokenizer.pad_token_id or 0)

    def probabilities(self, texts: list[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Class probabilities (softmax, or sigmoid per label for multi-label), in input order.

        Texts are tokenized once, sorted by length and run in buckets of similar length (at most
        ``batch_size`` each), so a batch of short messages with one long one does not pay for padding
        every message to the long one. Why: int8 GEMMs on a CPU gain most when no time goes to padding —
        on 32 random Banking77 texts (15 word pieces on average, the longest ~45) one padded call took
        163 ms and the buckets 101-108 ms; the torch model gained nothing from the same bucketing
        (258 vs 261 ms), so ``Predictor`` keeps one padded call per batch.
        """
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        columns = {name: encoded[name] for name in self.input_names}
        lengths = [len(ids) for ids in columns["input_ids"]]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        out = np.zeros((len(texts), len(self.label_map.labels)), dtype=np.float32)
        for bucket in length_buckets([lengths[i] for i in order], batch_size):
            chunk = order[bucket]
            width = lengths[chunk[-1]]
            feed = {}
            for name, rows in columns.items():
                padded = np.full((len(chunk), width), self.pad_id if name == "input_ids" else 0, dtype=np.int64)
                for row, i in enumerate(chunk):
                    padded[row, : lengths[i]] = rows[i]
                feed[name] = padded
            logits: NDArray[np.float32] = self.session.run(["logits"], feed)[0]
            out[chunk] = scores_of(logits, self.label_map.multi_label)
        return out

    def predict(self, texts: list[str], top_k: int = 3, batch_size: int = 64) -> list[list[Scored]]:
        """The ``top_k`` labels with their probabilities for each text."""
        probs = self.probabilities(texts, batch_size)
        return [top_labels(row, self.label_map.labels, top_k) for row in probs]

    def serve(self, texts: list[str]) -> NDArray[np.float32]:
        """What the server's batcher runs: one row of probabilities per text."""
        return self.probabilities(texts)


def length_buckets(sorted_lengths: list[int], max_size: int, growth: float = 1.25) -> list[slice]:
    """Cut ascending token lengths into runs to pad together: a run ends at ``max_size`` texts or when the
    next text is more than ``growth`` times (+2 tokens) as long as the run's first, which bounds padding
    to about a quarter of the tokens."""
    buckets: list[slice] = []
    start = 0
    for index, length in enumerate(sorted_lengths):
        if index > start and (index - start >= max_size or length > growth * sorted_lengths[start] + 2):
            buckets.append(slice(start, index))
            start = index
    if sorted_lengths:
        buckets.append(slice(start, len(sorted_lengths)))
    return buckets


def onnx_forward(model_file: Path, threads: int | None = None) -> Any:
    """A forward function (numpy inputs → logits) on an ONNX Runtime session of ``model_file``."""
    session = inference_session(model_file, threads)
    names = {node.name for node in session.get_inputs()}

    def forward(inputs: dict[str, NDArray[np.int64]]) -> NDArray[np.float32]:
        logits: NDArray[np.float32] = session.run(["logits"], {k: v for k, v in inputs.items() if k in names})[0]
        return logits

    return forward


class OnnxTokenPredictor(TokenPredictor):
    """The NER predictor on an exported ONNX model: same words, subwords and spans, ONNX Runtime forward pass."""

    def __init__(self, folder: Path, int8: bool | None = None, *, threads: int | None = None) -> None:
        record = read_export_record(folder)
        self.model_file = exported_file(folder, record, int8)
        super().__init__(folder, int(record["max_length"]), forward=onnx_forward(self.model_file, threads))


def load_exported(folder: Path) -> Any:
    """The ONNX predictor of a version folder's task (classification or NER) on its usable export."""
    task = json.loads((folder / "version.json").read_text(encoding="utf-8"))["task"]
    if task == "token-classification":
        return OnnxTokenPredictor(folder)
    return OnnxPredictor(folder)


def load_onnx_predictor(ref: str, int8: bool | None = None) -> tuple[registry.VersionInfo, OnnxPredictor]:
    """The version behind ``ref`` and an ONNX predictor on its verified, usable export."""
    version = registry.get(ref)
    verify_manifest(version.path)
    return version, OnnxPredictor(version.path, int8, max_length=int(version.config["model"]["max_length"]))
