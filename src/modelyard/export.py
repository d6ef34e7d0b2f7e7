"""Export a model version to ONNX, quantize it to int8, and check both against torch.

``run(ref)`` adds three files to the version's folder and lists them in its manifest:

``model.onnx``
    fp32, standard ONNX operators (opset 17), dynamic batch and sequence axes;
    inputs ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the
    tokenizer makes them), output ``logits``. Runs on any ONNX runtime.
``model.int8.onnx``
    ONNX Runtime's BERT fusions (one ``Attention`` node per layer, fused
    embedding and skip layer norms) then dynamic int8 quantization: int8 weights
    with one scale per output channel, activations quantized per batch at run
    time. Needs ONNX Runtime (the fused nodes are in its ``com.microsoft`` domain).
``export.json``
    parity figures, the tolerance, ``usable``, opset, versions and sizes.

Parity: both files score the version's stored validation split next to the
torch model; the figures are the largest probability difference, both
accuracies, the accuracy drop and the label agreement. An export outside the
tolerance is still written (so it can be inspected) but marked
``usable: false``; ``OnnxPredictor`` refuses it and ``ExportResult.check()``
(called by the CLI) raises ``ModelLoadError``, since such a file must not be
loaded for serving.

Storage: everything is built in a scratch folder beside the version, fsynced,
then renamed in; the new manifest replaces the old one last (``os.replace``)
and the database row gets ``metrics["export"]`` after that. Any error before
or during that step puts the folder back as it was.

Choices, measured on the packaged MiniLM-L6 (Banking77 texts, 2 AVX2 cores):

- Exporter: the TorchScript exporter (``dynamo=False``) on eager attention.
  Its graph matches ONNX Runtime's attention fusion; the ``torch.export``
  graph (the torch 2.13 default) exports just as exactly but its attention
  is not fused, and its int8 model was 20-25% slower at batch 32. torch is
  pinned to 2.13.0, where the TorchScript exporter is deprecated but present.
- Quantization: per-channel int8 weights kept the pooled embeddings closest
  to fp32 (mean cosine 0.993 vs 0.968 per-tensor) and cut label flips from
  3.0% to 1.4%; ``reduce_range`` (7-bit weights, against AVX2 saturation) was not
  better, and leaving the embedding ``Gather`` in fp32 gained no accuracy but
  would keep 47 MB of fp32 weights.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from sqlalchemy import select

from modelyard import registry, store
from modelyard.artifacts import MANIFEST, fsync_path, sha256_file, verify_manifest
from modelyard.config import FrozenModel
from modelyard.data.versions import folder_of, read_split
from modelyard.errors import ConfigError, DataError, ModelLoadError, NotFound
from modelyard.runtime import EXPORT_RECORD, FP32_FILE, INT8_FILE, OnnxPredictor, onnx_forward
from modelyard.tasks.labels import LabelMap
from modelyard.tasks.text_classification.predict import Predictor
from modelyard.tasks.token_classification.data import word_strings
from modelyard.tasks.token_classification.predict import TokenPredictor

Quantize = Literal["none", "int8"]
OPSET = 17
EXPORT_FILES = (FP32_FILE, INT8_FILE, EXPORT_RECORD)
MAX_PARITY_EXAMPLES = 2000
"""Parity is checked on at most this many stored examples (in stored order) to bound export time."""
_PARITY_SPLITS = ("validation", "test", "train")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Two lengths, so the traced graph takes the padded-attention path and both axes can vary.
_EXAMPLE_TEXTS = ["a short text", "a somewhat longer example text, so that the batch needs padding"]
_PACKAGES = ("modelyard", "torch", "transformers", "onnx", "onnxruntime")


class ParityTolerance(FrozenModel):
    """How far an exported model may be from the torch model on the stored validation split.

    One tolerance applies to every exported file; the defaults are set for int8 (an fp32 export is ~1e-7
    away). Where they come from — per-channel int8 of MiniLM-L6 on the 3,080 Banking77 test texts, scored
    by a logistic-regression head on its embeddings (a proxy: no fine-tuned Banking77 model was at hand;
    a fine-tuned head is more confident, so it should sit inside these figures):

    - the largest probability moved by 0.15 (per example 0.02 on average); the maximum grows with the
      number of examples, hence 0.25;
    - 98.3-98.6% of labels stayed the same, the flips being near-ties; 0.97 leaves room for that;
    - accuracy moved by less than 0.007; 0.01 is one flip per 100 examples — the serving benchmark
      holds the test-set drop to 0.005 separately.

    A split of a few examples makes accuracy and agreement coarse (one near-tie flip in 6 is 0.17):
    such an export is marked unusable, and a caller who accepts that passes a looser tolerance.
    """

    max_prob_diff: float = Field(0.25, ge=0, le=1)
    """Largest absolute difference of any class probability on any example."""
    max_accuracy_drop: float = Field(0.01, ge=0, le=1)
    """Torch accuracy minus exported accuracy (an export that scores higher never fails)."""
    min_agreement: float = Field(0.97, ge=0, le=1)
    """Fraction of examples with the same predicted label (multi-label: the same label set)."""


DEFAULT_TOLERANCE = ParityTolerance()


@dataclass(frozen=True)
class Parity:
    """One exported file next to the torch model on ``n`` stored examples of ``split``."""

    file: str
    split: str
    n: int
    max_prob_diff: float
    mean_prob_diff: float
    torch_accuracy: float
    accuracy: float
    accuracy_drop: float
    agreement: float
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class ExportResult:
    ref: str
    folder: Path
    quantize: Quantize
    usable: bool
    tolerance: ParityTolerance
    parity: dict[str, Parity]
    """Per exported file name."""
    sizes: dict[str, int]
    """Bytes per exported file name."""
    weights_bytes: int
    """Bytes of the version's safetensors files (for LoRA only the adapter and head)."""
    seconds: float
    record: dict[str, Any] = field(repr=False)
    """What was written to export.json."""

    @property
    def served_file(self) -> str:
        """int8 when asked for and within tolerance; else the fp32 ONNX file when that is (see ``served_file``)."""
        return str(self.record["served_file"])

    @property
    def fell_back(self) -> bool:
        """int8 was asked for but failed parity, and the fp32 ONNX file is served instead."""
        return self.usable and self.quantize == "int8" and self.served_file == FP32_FILE

    @property
    def failures(self) -> list[str]:
        return [failure for parity in self.parity.values() for failure in parity.failures]

    def check(self) -> None:
        """Raise ModelLoadError when the export failed its parity check (its files stay, marked unusable)."""
        if not self.usable:
            raise ModelLoadError(
                f"the ONNX export of {self.ref} is outside the parity tolerance: {'; '.join(self.failures)}. "
                f"It was written to {self.folder} with usable: false and will not be served; "
                "check the model (a few-step model has near-tied probabilities) or export with --quantize none"
            )


def run(
    ref: str,
    *,
    format: Literal["onnx"] = "onnx",
    quantize: Quantize = "int8",
    tolerance: ParityTolerance | None = None,
) -> ExportResult:
    """Export ``ref`` to ONNX (and int8), check parity, store the files with the version and record it.

    ``tolerance`` defaults to ``DEFAULT_TOLERANCE`` (read at call time) and applies to every exported file.
    An export outside it is written with ``usable: false``; call ``check()`` on the result to raise.
    """
    tolerance = tolerance or DEFAULT_TOLERANCE
    if format != "onnx":
        raise ConfigError(f"export format {format!r} is not supported; use --format onnx")
    if quantize not in ("none", "int8"):
        raise ConfigError(f"--quantize {quantize!r} is not one of: int8, none")
    started = time.perf_counter()
    version = registry.get(ref)
    folder = version.path
    verify_manifest(folder)  # never export (and re-sign) files that changed since registration
    max_length = int(version.config["model"]["max_length"])
    ner = version.task == "token-classification"
    reference: Any = (TokenPredictor if ner else Predictor)(folder, max_length=max_length)
    split, texts, gold = parity_examples(version.dataset_hash, reference.label_map, version.task)
    # NER is compared word by word: each word's tag probabilities are one "example" of the parity check.
    score = _word_scorer(texts) if ner else _text_scorer(texts)

    scratch = folder.parent / f".tmp-export-{folder.name}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        token_types = ner and reference.case_features
        inputs = export_onnx(
            reference.model, reference.tokenizer, scratch / FP32_FILE, per_token=ner, token_types=token_types
        )
        files = [FP32_FILE]
        fusions: dict[str, int] = {}
        if quantize == "int8":
            fusions = quantize_int8(scratch / FP32_FILE, scratch / INT8_FILE, reference.model.config)
            files.append(INT8_FILE)
        torch_probs = score(reference)
        parity = {
            name: compare(
                name,
                split,
                score(_onnx_predictor(ner, scratch / name, folder, max_length)),
                torch_probs,
                gold,
                reference.label_map.multi_label,
                tolerance,
            )
            for name in files
        }
        served = served_file(parity, quantize)
        usable = parity[served].passed
        sizes = {name: (scratch / name).stat().st_size for name in files}
        weights_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        record = {
            "ref": version.ref,
            "task": version.task,
            "format": "onnx",
            "quantize": quantize,
            "usable": usable,
            "failures": [f for p in parity.values() for f in p.failures],
            "served_file": served,
            "tolerance": tolerance.model_dump(),
            "parity": {name: _parity_dict(p) for name, p in parity.items()},
            "opset": OPSET,
            "exporter": "torch.onnx.export (TorchScript, eager attention)",
            "inputs": inputs,
            "outputs": ["logits"],
            "max_length": max_length,
            "multi_label": reference.label_map.multi_label,
            "quantization": {
                "method": "onnxruntime.quantization.quantize_dynamic",
                "weight_type": "QInt8",
                "per_channel": True,
                "reduce_range": False,
                "fusions": fusions,
            }
            if quantize == "int8"
            else None,
            "sizes": sizes,
            "weights_bytes": weights_bytes,
            "packages": registry.package_versions(_PACKAGES),
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (scratch / EXPORT_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        summary = _db_summary(record)
        _install(folder, scratch, [*files, EXPORT_RECORD], lambda: _record_in_store(version, summary))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportResult(
        version.ref,
        folder,
        quantize,
        usable,
        tolerance,
        parity,
        sizes,
        weights_bytes,
        time.perf_counter() - started,
        record,
    )


def served_file(parity: dict[str, Parity], quantize: Quantize) -> str:
    """The file a server loads: int8 when asked for and within tolerance, else fp32 ONNX when it is.

    int8 can fail where fp32 passes (a near-tie moved by quantization); fp32 ONNX is still faster
    than torch eager, so it is served rather than falling back to torch. When neither passes the
    asked-for file is named and the export is unusable."""
    if quantize == "int8" and not parity[INT8_FILE].passed and parity[FP32_FILE].passed:
        return FP32_FILE
    return INT8_FILE if quantize == "int8" else FP32_FILE


def parity_examples(
    dataset_hash: str, label_map: LabelMap, task: str = "text-classification"
) -> tuple[str, list[Any], NDArray[Any]]:
    """Inputs and encoded labels of the version's stored validation split (else test, else train): texts and
    classes, or (NER) the word lists of the sentences and the tag of every word in order."""
    for split in _PARITY_SPLITS:
        examples = stored_examples(dataset_hash, split, task)[:MAX_PARITY_EXAMPLES]
        if not examples:
            continue
        if task == "token-classification":
            index = label_map.label2id
            gold = np.array([index[tag] for e in examples for tag in e.tags])
            return split, [word_strings(e) for e in examples], gold
        return split, [e.text for e in examples], np.array([label_map.encode(e.label) for e in examples])
    raise DataError(f"the dataset version {dataset_hash[:12]} holds no stored examples to check parity on")


def stored_examples(dataset_hash: str, split: str, task: str = "text-classification") -> list[Any]:
    """The examples of one stored split of the dataset version with this hash ([] if none)."""
    return read_split(folder_of(dataset_hash), split, task)


def _text_scorer(texts: list[str]) -> Callable[[Any], NDArray[np.float32]]:
    return lambda predictor: np.asarray(predictor.probabilities(texts), dtype=np.float32)


def _word_scorer(sentences: list[list[str]]) -> Callable[[Any], NDArray[np.float32]]:
    def score(predictor: Any) -> NDArray[np.float32]:
        return np.concatenate(predictor.word_probabilities(sentences), axis=0)

    return score


def _onnx_predictor(ner: bool, model_file: Path, folder: Path, max_length: int) -> Any:
    if ner:
        return TokenPredictor(folder, max_length, forward=onnx_forward(model_file))
    return OnnxPredictor.from_file(model_file, folder, max_length=max_length)


def export_onnx(
    model: Any, tokenizer: Any, destination: Path, *, per_token: bool = False, token_types: bool = False
) -> list[str]:
    """Write the fp32 ONNX graph of ``model`` (logits only; per token for NER); returns its input names.

    ``token_types`` makes ``token_type_ids`` an input even where the tokenizer has none (word shapes)."""
    import torch

    wanted = {*tokenizer.model_input_names, *(["token_type_ids"] if token_types else [])}
    names = [name for name in _INPUTS if name in wanted]
    example = tokenizer(_EXAMPLE_TEXTS, padding=True, return_tensors="pt")
    if token_types:
        example["token_type_ids"] = torch.ones_like(example["input_ids"])
    # Eager attention is plain MatMul/Softmax: the pattern ONNX Runtime fuses into one Attention node.
    model.set_attn_implementation("eager")
    model.float().eval()
    logits_axes = {0: "batch", 1: "sequence"} if per_token else {0: "batch"}
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": logits_axes}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter announces its deprecation and transformers warns about traced
        # Python branches; both are covered by the parity check that follows every export.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _logits_only(model, names),
            tuple(example[name] for name in names),
            str(destination),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return names


def _logits_only(model: Any, names: list[str]) -> Any:
    """Positional inputs in (the tracer's calling convention), logits out."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).logits

    return LogitsOnly().eval()


def quantize_int8(source: Path, destination: Path, config: Any) -> dict[str, int]:
    """Fuse ``source`` for ONNX Runtime, then quantize its weights to int8; returns the fusions applied."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fused = destination.with_name(f"{destination.stem}.fused.onnx")
    fusions = _fuse(source, fused, config)
    with _quiet_preprocess_hint():
        quantize_dynamic(
            fused if fusions else source,
            destination,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=False,
            # Fused nodes have no ONNX shape inference; their outputs are float.
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    fused.unlink(missing_ok=True)
    return fusions


def _fuse(source: Path, destination: Path, config: Any) -> dict[str, int]:
    """ONNX Runtime's transformer fusions; an empty dict (and no file) when nothing could be fused."""
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        optimized = optimize_model(
            str(source),
            model_type="bert",  # the BERT patterns also cover RoBERTa/DistilBERT-style encoders
            num_heads=int(getattr(config, "num_attention_heads", 0) or 0),  # 0: detect from the graph
            hidden_size=int(getattr(config, "hidden_size", 0) or 0),
            # Only the pattern fusions: the session applies ORT's own graph optimisations when it loads the
            # file (opt_level=1 gave the same int8 graph and outputs, 3 s slower), and the file stays portable.
            opt_level=0,
        )
    except Exception:  # fusion is an optimisation: an unknown architecture is quantized unfused
        return {}
    fusions = {name: int(count) for name, count in optimized.get_fused_operator_statistics().items() if count}
    if fusions:
        optimized.save_model_to_file(str(destination))
    return fusions


@contextmanager
def _quiet_preprocess_hint() -> Iterator[None]:
    """quantize_dynamic logs 'consider pre-processing' on the root logger; its pre-processing fails on fused
    graphs (symbolic shape inference does not know their nodes), so the hint only adds noise to CLI output."""

    class DropHint(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "pre-processing" not in record.getMessage()

    hint = DropHint()
    root = logging.getLogger()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def compare(
    file: str,
    split: str,
    probs: NDArray[np.float32],
    reference: NDArray[np.float32],
    gold: NDArray[Any],
    multi_label: bool,
    tolerance: ParityTolerance,
) -> Parity:
    """Parity figures of ``probs`` (an exported file) against ``reference`` (torch), checked against ``tolerance``."""
    difference = np.abs(probs.astype(np.float64) - reference.astype(np.float64))
    if multi_label:
        predicted, expected = probs >= 0.5, reference >= 0.5
        truth = gold.astype(bool)
        correct, torch_correct = (predicted == truth).all(axis=1), (expected == truth).all(axis=1)
        agree = (predicted == expected).all(axis=1)
    else:
        predicted, expected = probs.argmax(axis=1), reference.argmax(axis=1)
        correct, torch_correct, agree = predicted == gold, expected == gold, predicted == expected
    accuracy, torch_accuracy = float(correct.mean()), float(torch_correct.mean())
    figures = {
        "max_prob_diff": float(difference.max()),
        # Per example the largest class difference, averaged: the typical movement next to the worst one.
        "mean_prob_diff": float(difference.max(axis=1).mean()),
        "accuracy_drop": torch_accuracy - accuracy,
        "agreement": float(agree.mean()),
    }
    failures = []
    if figures["max_prob_diff"] > tolerance.max_prob_diff:
        failures.append(
            f"{file}: max probability difference {figures['max_prob_diff']:.4f} > {tolerance.max_prob_diff}"
        )
    if figures["accuracy_drop"] > tolerance.max_accuracy_drop:
        failures.append(f"{file}: accuracy drop {figures['accuracy_drop']:.4f} > {tolerance.max_accuracy_drop}")
    if figures["agreement"] < tolerance.min_agreement:
        failures.append(f"{file}: label agreement {figures['agreement']:.4f} < {tolerance.min_agreement}")
    return Parity(
        file,
        split,
        len(probs),
        figures["max_prob_diff"],
        figures["mean_prob_diff"],
        torch_accuracy,
        accuracy,
        figures["accuracy_drop"],
        figures["agreement"],
        tuple(failures),
    )


def _parity_dict(parity: Parity) -> dict[str, Any]:
    return {
        "split": parity.split,
        "n": parity.n,
        "max_prob_diff": round(parity.max_prob_diff, 6),
        "mean_prob_diff": round(parity.mean_prob_diff, 6),
        "torch_accuracy": round(parity.torch_accuracy, 6),
        "accuracy": round(parity.accuracy, 6),
        "accuracy_drop": round(parity.accuracy_drop, 6),
        "agreement": round(parity.agreement, 6),
        "passed": parity.passed,
    }


def _db_summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the version's row keeps under ``metrics["export"]``: the served file's figures (export.json has all)."""
    served = record["parity"][record["served_file"]]
    return {
        "usable": record["usable"],
        "quantize": record["quantize"],
        "file": record["served_file"],
        "bytes": record["sizes"][record["served_file"]],
        "opset": record["opset"],
        "onnxruntime": record["packages"]["onnxruntime"],
        "exported_at": record["exported_at"],
    } | {key: served[key] for key in ("split", "n", "max_prob_diff", "accuracy", "accuracy_drop", "agreement")}


def _record_in_store(version: registry.VersionInfo, summary: dict[str, Any]) -> None:
    with store.session() as db:
        row = db.scalar(
            select(store.ModelVersion).where(
                store.ModelVersion.name == version.name, store.ModelVersion.version == version.version
            )
        )
        if row is None:
            raise NotFound(f"{version.ref} was deleted by another process during the export")
        # A new dict, not an in-place change: SQLAlchemy only notices reassigned JSON columns.
        row.metrics = {**row.metrics, "export": summary}


def _install(folder: Path, scratch: Path, names: list[str], record: Callable[[], None]) -> None:
    """Move the staged files into ``folder``, replace its manifest last, then ``record``; undo all on error.

    Files of an earlier export are moved aside first (a re-export without int8 must not leave a stale
    int8 file behind) and moved back if anything fails, so an error leaves the folder as it was.
    """
    manifest_path = folder / MANIFEST
    old_manifest = manifest_path.read_bytes()
    manifest = json.loads(old_manifest)
    hashes = {name: sha256_file(scratch / name) for name in names}
    for name in names:
        fsync_path(scratch / name)
    aside = scratch / "previous"
    aside.mkdir()
    moved_out: list[str] = []
    moved_in: list[str] = []
    manifest_replaced = False
    try:
        for name in EXPORT_FILES:
            if (folder / name).exists():
                os.rename(folder / name, aside / name)
                moved_out.append(name)
        for name in names:
            os.rename(scratch / name, folder / name)
            moved_in.append(name)
        kept = {key: value for key, value in manifest["files"].items() if key not in EXPORT_FILES}
        manifest["files"] = dict(sorted((kept | hashes).items()))
        _replace_file(manifest_path, json.dumps(manifest, indent=2).encode("utf-8"))
        manifest_replaced = True
        record()
    except BaseException:
        for name in moved_in:
            (folder / name).unlink(missing_ok=True)
        for name in moved_out:
            os.rename(aside / name, folder / name)
        if manifest_replaced:
            _replace_file(manifest_path, old_manifest)
        raise


def _replace_file(path: Path, content: bytes) -> None:
    """Write ``content`` beside ``path``, fsync it, and swap it in with one ``os.replace``."""
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with temporary.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_path(path.parent)
