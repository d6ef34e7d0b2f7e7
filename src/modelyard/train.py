"""Fine-tune a pretrained encoder on a dataset version and register the result.

The loop is the Hugging Face ``Trainer`` (accelerate underneath), so the same
code runs on a CPU, a GPU, or several processes under ``accelerate launch``.
What we add: the dataset version and run bookkeeping, dynamic padding with
length-grouped batches, a rich progress bar, resumable checkpoints per recipe,
evaluation on the held-out test split, and atomic registration.
A recipe with ``privacy.dp`` swaps only ``Trainer.train`` for the DP-SGD loop
in ``privacy/dp.py``; everything around it is shared.

Only the main process writes to the store and the artifact folders.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_callback import PrinterCallback
from transformers.utils import logging as hf_logging

from modelyard import averaging, layer_decay, models, rdrop, registry, settings, store, tasks
from modelyard.config import ModelSpec, Recipe
from modelyard.data.versions import DatasetVersionInfo, import_data, load_splits
from modelyard.errors import ConfigError, TrainingError
from modelyard.privacy import dp
from modelyard.tasks import heads, pooling
from modelyard.tasks.labels import LabelMap


@dataclass(frozen=True)
class TrainResult:
    version: registry.VersionInfo | None
    """The registered version (``None`` on processes other than the main one)."""
    metrics: dict[str, Any]
    train_seconds: float
    examples_per_second: float
    history: list[dict[str, Any]]
    """The Trainer's log: losses per logging step, validation metrics per evaluation."""


def run(recipe: Recipe, *, resume: bool = False, console: Console | None = None) -> TrainResult:
    """Train ``recipe`` end to end; registers a model version only if everything succeeds."""
    # cpu=True lets torchrun-launched workers on a GPU-less machine join one gloo group (MULTI_CPU).
    state = PartialState(cpu=not torch.cuda.is_available())
    # Our progress bar and summaries replace transformers' own prints and weight-loading bars.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    console = console or Console(stderr=True, quiet=not state.is_main_process)
    dp.check(recipe, num_processes=state.num_processes, resume=resume)
    with state.main_process_first():
        dataset = import_data(recipe.data, project=recipe.project, task=recipe.task)
    console.print(f"dataset [bold]{dataset.ref}[/]: {dataset.split_sizes} · {len(dataset.labels)} labels")

    run_dir = _prepare_run_dir(recipe, dataset, resume, state)
    run_id = _start_run(recipe, dataset, run_dir) if state.is_main_process else None
    try:
        result = _train(recipe, dataset, run_dir, resume, console, state, run_id)
    except KeyboardInterrupt:
        _finish_run(run_id, "interrupted", "interrupted by the user")
        raise TrainingError(
            f"training interrupted; checkpoints are kept in {run_dir}. Continue with `modelyard train RECIPE --resume`."
        ) from None
    except BaseException as error:
        _finish_run(run_id, "failed", f"{type(error).__name__}: {error}")
        raise
    _finish_run(run_id, "succeeded", None)
    if state.is_main_process:
        # The checkpoints were only needed to resume; the registered version holds the result.
        shutil.rmtree(run_dir, ignore_errors=True)
    return result


def _prepare_run_dir(recipe: Recipe, dataset: DatasetVersionInfo, resume: bool, state: PartialState) -> Path:
    run_dir = settings.subdir("runs") / f"{recipe.name}-{recipe.fingerprint()}-{dataset.content_hash[:8]}"
    has_checkpoint = any(run_dir.glob("checkpoint-*"))
    if resume and not has_checkpoint:
        raise ConfigError(
            f"nothing to resume for recipe {recipe.name!r} with this config and data: no checkpoint in {run_dir}. "
            "Run without --resume to start fresh (a changed recipe or dataset starts a new run)."
        )
    if not resume and state.is_main_process and run_dir.exists():
        shutil.rmtree(run_dir)
    state.wait_for_everyone()
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _start_run(recipe: Recipe, dataset: DatasetVersionInfo, run_dir: Path) -> int:
    with store.session() as db:
        row = store.Run(
            model_name=recipe.name,
            fingerprint=recipe.fingerprint(),
            dataset_hash=dataset.content_hash,
            status="running",
            output_dir=str(run_dir),
            config=recipe.model_dump(mode="json"),
        )
        db.add(row)
        db.flush()
        return row.id


def _finish_run(run_id: int | None, status: str, error: str | None) -> None:
    if run_id is None:
        return
    with store.session() as db:
        row = db.get(store.Run, run_id)
        if row is not None:
            row.status, row.error, row.finished_at = status, error, datetime.now(UTC)


def _train(
    recipe: Recipe,
    dataset: DatasetVersionInfo,
    run_dir: Path,
    resume: bool,
    console: Console,
    state: PartialState,
    run_id: int | None,
) -> TrainResult:
    set_seed(recipe.training.seed)  # before the head is built: its random init must be reproducible too
    task = tasks.get(recipe.task)
    base = models.resolve(recipe.model.base)
    tokenizer = models.load_tokenizer(base)
    label_map = task.label_map(dataset.labels, dataset.multi_label)
    splits = load_splits(dataset)
    encoded = {
        name: task.encode(rows, tokenizer, label_map, recipe.model, training=name == "train")
        for name, rows in splits.items()
        if rows
    }
    lora = recipe.training.lora_settings if recipe.training.method == "lora" else None
    pooled_by = pooling_for(recipe, base)
    model = heads.build(task, base, label_map, lora, pooled_by, case_features=recipe.model.case_features)
    if recipe.training.method == "head":
        heads.freeze_encoder(model)

    trainer = InOrderTrainer(
        model=model,
        args=_training_arguments(recipe, run_dir),
        train_dataset=encoded["train"],
        eval_dataset=encoded["validation"],
        data_collator=task.collator(tokenizer),
        processing_class=tokenizer,
        compute_metrics=_headline_metrics(task, label_map, splits["validation"], recipe.model),
        callbacks=_callbacks(recipe, console, state),
    )
    trainer.remove_callback(PrinterCallback)
    trainer.rdrop_alpha = recipe.training.rdrop
    if recipe.training.layer_decay is not None:
        trainer.optimizer = layer_decay.optimizer(trainer, recipe.training.layer_decay)
    started = time.perf_counter()
    private: dict[str, Any] = {}
    if recipe.privacy.dp is None:
        output = trainer.train(resume_from_checkpoint=True if resume else None)
        examples_per_second = float(output.metrics.get("train_samples_per_second", 0.0))
    else:
        # DP-SGD replaces only Trainer.train; evaluation, prediction and saving below are shared.
        dp_run = dp.train(trainer, recipe)
        examples_per_second, private = dp_run.examples_per_second, {"privacy": {"dp": dp_run.record}}
    train_seconds = time.perf_counter() - started
    averaged = None
    if recipe.training.average_last is not None:
        averaged = averaging.average(
            trainer,
            run_dir,
            recipe.training.average_last,
            kept=trainer.state.best_model_checkpoint if recipe.training.keep == "best" else None,
            validation=encoded["validation"],
            metric=recipe.best_metric,
        )
        console.print(
            f"averaged {len(averaged.steps)} checkpoints (steps {', '.join(map(str, averaged.steps))}); "
            f"validation {recipe.best_metric} of the mean of the last 1…{len(averaged.steps)}: "
            + " ".join(f"{value:.4f}" for value in averaged.validation)
        )

    held_out = "test" if "test" in encoded else "validation"
    prediction = trainer.predict(encoded[held_out])
    metrics = task.metrics(label_map, prediction.label_ids, prediction.predictions, splits[held_out], recipe.model)
    metrics |= {
        "split": held_out,
        "train_seconds": round(train_seconds, 1),
        "train_examples_per_second": round(examples_per_second, 2),
        "epochs": round(float(trainer.state.epoch or 0), 2),
        "processes": state.num_processes,
    } | private
    if averaged is not None:
        metrics["checkpoint_average"] = averaged.record(recipe.best_metric)
    version = None
    if state.is_main_process:
        version = registry.register(
            recipe=recipe,
            dataset=dataset,
            base=base,
            label_map=label_map,
            metrics=metrics,
            history=trainer.state.log_history,
            run_id=run_id,
            save_weights=lambda folder: _save_weights(trainer, tokenizer, folder, base, pooled_by),
        )
    state.wait_for_everyone()
    return TrainResult(
        version, metrics, train_seconds, metrics["train_examples_per_second"], list(trainer.state.log_history)
    )


class InOrderTrainer(Trainer):
    """A ``Trainer`` whose evaluation and prediction rows come in dataset order.

    transformers 5 length-groups the evaluation batches too when training is length-grouped, so row i of
    ``predict`` is not example i; metrics that read the examples beside the logits (NER document consistency
    looks up each row's words and document) need them in order. One process reads sequentially; several
    keep the default (each takes contiguous batches, gathered back in order)."""

    rdrop_alpha: float | None = None
    """Weight of the R-Drop consistency term (``training.rdrop``); ``None``: the plain task loss."""

    def _get_eval_sampler(self, eval_dataset: Any) -> torch.utils.data.Sampler[int] | None:
        if eval_dataset is None or self.args.world_size > 1:
            return None
        return torch.utils.data.SequentialSampler(eval_dataset)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        if self.rdrop_alpha is None or not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.get("labels")
        items = None if num_items_in_batch is None else num_items_in_batch * 2
        loss, outputs = super().compute_loss(model, rdrop.doubled(inputs), True, items)
        loss = loss + self.rdrop_alpha * rdrop.consistency(outputs["logits"], labels)
        return (loss, outputs) if return_outputs else loss


def _save_weights(trainer: Trainer, tokenizer: Any, folder: Path, base: models.BaseModel, pooling: str) -> None:
    model = trainer.accelerator.unwrap_model(trainer.model)
    heads.save(model, tokenizer, folder, base, pooling)


def pooling_for(recipe: Recipe, base: models.BaseModel) -> str:
    """The resolved pooling of a text classifier (``auto`` follows the base); NER has none to choose."""
    if recipe.task != "text-classification":
        return "cls"
    return pooling.resolve(recipe.model.pooling, base)


def _training_arguments(recipe: Recipe, run_dir: Path) -> TrainingArguments:
    spec = recipe.training
    every = spec.eval_every if isinstance(spec.eval_every, int) else None
    strategy = "steps" if every else "epoch"
    precision = _precision(spec.precision)
    best = f"eval_{recipe.best_metric}"
    return TrainingArguments(
        output_dir=str(run_dir),
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps,
        per_device_train_batch_size=spec.batch_size,
        per_device_eval_batch_size=spec.eval_batch_size,
        learning_rate=spec.learning_rate,
        weight_decay=spec.weight_decay,
        warmup_steps=spec.warmup if spec.warmup < 1 else int(spec.warmup),
        label_smoothing_factor=spec.label_smoothing,
        seed=spec.seed,
        data_seed=spec.seed,
        eval_strategy=strategy,
        save_strategy=strategy,
        eval_steps=every,
        save_steps=every or 500,
        # Averaging reads the last N checkpoints up to the best; early stopping keeps up to its patience after it.
        save_total_limit=max(spec.save_total_limit, (spec.average_last or 0) + (spec.early_stopping_patience or 0)),
        load_best_model_at_end=spec.keep == "best",
        metric_for_best_model=best,
        greater_is_better=recipe.best_metric != "loss",
        train_sampling_strategy="group_by_length" if spec.group_by_length else "random",
        logging_strategy="steps",
        logging_steps=10,
        report_to=[],
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        bf16=precision == "bf16",
        fp16=precision == "fp16",
    )


def _precision(choice: str) -> str:
    cuda = torch.cuda.is_available()
    if choice in ("bf16", "fp16") and not cuda:
        raise ConfigError(f"training.precision: {choice} needs a GPU; none is visible. Use auto or fp32 on a CPU.")
    if choice == "auto" and cuda:
        choice = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return choice


def _callbacks(recipe: Recipe, console: Console, state: PartialState) -> list[TrainerCallback]:
    examples_per_step = recipe.training.batch_size * state.num_processes
    callbacks: list[TrainerCallback] = [RichProgress(console, examples_per_step, tasks.get(recipe.task).headline)]
    if recipe.training.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.training.early_stopping_patience))
    return callbacks


def _headline_metrics(task: tasks.Task, label_map: LabelMap, examples: list[Any], model: ModelSpec) -> Any:
    def headline(prediction: Any) -> dict[str, float]:
        full = task.metrics(label_map, prediction.label_ids, prediction.predictions, examples, model)
        return {key: full[key] for key in task.headline}

    return headline


PLAIN_LINE_SECONDS = 60


class RichProgress(TrainerCallback):
    """Progress bar with loss, throughput and ETA, drawn by the main process only."""

    def __init__(self, console: Console, examples_per_step: int, headline: tuple[str, ...]) -> None:
        self.console = console
        self.headline = headline
        self.examples_per_step = examples_per_step
        self.progress: Progress | None = None
        self.task: Any = None
        self.started = 0.0
        self.first_step = 0
        self.last_line = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.console.is_terminal and self.console.quiet,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step, status="")
        self.started, self.first_step = time.perf_counter(), state.global_step
        self.last_line = self.started

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if self.progress is None or not logs:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = (state.global_step - self.first_step) * self.examples_per_step / elapsed
        parts = [f"epoch {state.epoch or 0:.2f}", f"{rate:.0f} ex/s"]
        if "loss" in logs:
            parts.insert(0, f"loss {logs['loss']:.4f}")
        self.progress.update(self.task, status=" · ".join(parts))
        if not self.console.is_terminal and time.perf_counter() - self.last_line > PLAIN_LINE_SECONDS:
            # Logs and CI have no live bar: a plain line now and then shows the run is alive.
            self.last_line = time.perf_counter()
            done = state.global_step - self.first_step
            eta = (state.max_steps - state.global_step) * elapsed / max(done, 1)
            self.console.print(f"  step {state.global_step}/{state.max_steps} · {' · '.join(parts)} · ETA {eta:.0f}s")
        if "eval_loss" in logs:
            evaluated = " ".join(
                f"{k.removeprefix('eval_')} {v:.4f}"
                for k, v in logs.items()
                if k == "eval_loss" or k.removeprefix("eval_") in self.headline
            )
            self.progress.console.print(f"  epoch {state.epoch or 0:.2f} validation: {evaluated}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
