"""Differentially private fine-tuning (DP-SGD with Opacus), full or LoRA.

The Hugging Face ``Trainer`` cannot run DP-SGD: it needs per-example gradients
(Opacus hooks on every trainable layer), an optimizer that clips each example's
gradient and adds Gaussian noise (``DPOptimizer``), and Poisson-sampled batches,
which the privacy accountant assumes. So this module replaces ``Trainer.train``
and nothing else: ``train.py`` builds its Trainer as usual and hands it here; we
train the Trainer's model with the Trainer's optimizer, schedule, callbacks and
log, and the Trainer then evaluates, predicts and saves exactly as it does for an
ordinary run.

Fixed here, and why:

- The noise is set from the budget before training (``privacy.dp.epsilon`` over
  the planned steps); the ε recorded is the accountant's (PRV) for the steps
  actually taken, so early stopping spends less, never more.
- Embedding tables are frozen. Their per-example gradient is a dense
  vocabulary × hidden tensor per example (1.5 GB a batch of 32 for MiniLM), noise
  on 12M more coordinates buries the signal, and position embeddings are indexed
  by a buffer shared across the batch, which Opacus cannot split per example.
- The run keeps no checkpoints and cannot be resumed; it runs in one process and
  in fp32. ``check`` refuses the rest with the key to change. Length-grouped
  batches do not apply: Poisson sampling draws every example independently.
- Opacus + PEFT LoRA has failed silently (opacus#820: the optimizer held
  parameters the model no longer used, training "succeeded" and the weights never
  moved). We attach hooks with ``wrap_model=False`` after the Trainer has placed
  the model on its device and built the optimizer from the model's own parameters,
  and ``_check_moved`` fails the run if any trainable tensor did not change.
- The noise comes from torch's default generator (seeded by the recipe), not a
  cryptographically secure one: reproducible, and fine against everything but an
  attacker who can replay the generator's state.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from modelyard.config import DPSpec, Recipe
from modelyard.errors import ConfigError, TrainingError

ACCOUNTANT = "prv"
"""Opacus' privacy random variable accountant: tighter than RDP, and its ε is an upper bound."""


@dataclass(frozen=True)
class PrivateRun:
    record: dict[str, Any]
    """What a version records under ``privacy.dp``: target and achieved ε, δ, noise, clipping, sampling, steps."""
    examples_per_second: float


def check(recipe: Recipe, *, num_processes: int, resume: bool) -> None:
    """Refuse what DP training cannot do, naming the key to change; nothing to check without ``privacy.dp``."""
    if recipe.privacy.dp is None:
        return
    if num_processes > 1:
        raise ConfigError(
            f"privacy.dp: differentially private training runs in one process; found {num_processes} "
            "(accelerate launch or torchrun). Run `modelyard train RECIPE` directly, or remove privacy.dp."
        )
    if resume:
        raise ConfigError(
            "privacy.dp: a differentially private run keeps no checkpoints and cannot be resumed "
            "(its privacy accounting would start again); run without --resume."
        )
    training = recipe.training
    if training.label_smoothing:
        raise ConfigError(
            f"training.label_smoothing: {training.label_smoothing} is not supported with privacy.dp "
            "(each example's gradient of the model's own loss is clipped); set it to 0."
        )
    if training.precision in ("bf16", "fp16"):
        raise ConfigError(
            f"training.precision: {training.precision} is not supported with privacy.dp "
            "(per-example gradients are computed in fp32); use auto or fp32."
        )


def resolve_delta(spec: DPSpec, n_train: int) -> float:
    """``privacy.dp.delta``, or 1/(10·n); a δ of 1/n or more would allow publishing one example outright."""
    delta = spec.delta if spec.delta is not None else 1 / (10 * n_train)
    if delta >= 1 / n_train:
        raise ConfigError(
            f"privacy.dp.delta: {spec.delta} is not below 1/n for the {n_train} training examples "
            f"({1 / n_train:.2e}); such a δ allows releasing a whole example. Use e.g. {1 / (10 * n_train):.1e}, "
            "or leave delta out for 1/(10·n)."
        )
    return delta


def train(trainer: Any, recipe: Recipe) -> PrivateRun:
    """Train ``trainer.model`` with DP-SGD in place; the Trainer's state and log history are filled as ``train``
    fills them, and the weights of its best evaluation are loaded at the end."""
    with warnings.catch_warnings():
        for expected in _EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=expected, category=UserWarning)
        return _train(trainer, recipe)


_EXPECTED_WARNINGS = (
    "Secure RNG turned off",  # see the module's docstring
    # Frozen embeddings: the first hooked layer's input needs no gradient, which is what we want.
    "Full backward hook is firing",
    # The PRV accountant bounds its domain with an RDP estimate; only that bound's tightness is meant.
    "Optimal order is the",
)


def _train(trainer: Any, recipe: Recipe) -> PrivateRun:
    from opacus import PrivacyEngine
    from opacus.accountants.utils import get_noise_multiplier
    from torch.utils.data import DataLoader

    spec = recipe.privacy.dp
    assert spec is not None
    training = recipe.training
    model = trainer.model
    model.train()
    _freeze_embeddings(model)
    n_train = len(trainer.train_dataset)
    delta = resolve_delta(spec, n_train)
    loader = DataLoader(trainer.train_dataset, batch_size=training.batch_size, collate_fn=trainer.data_collator)
    steps_per_epoch = len(loader)
    sample_rate = 1 / steps_per_epoch
    planned = training.max_steps if training.max_steps > 0 else math.ceil(training.epochs * steps_per_epoch)
    try:
        noise = get_noise_multiplier(
            target_epsilon=spec.epsilon,
            target_delta=delta,
            sample_rate=sample_rate,
            steps=planned,
            accountant=ACCOUNTANT,
        )
    except ValueError as error:
        raise ConfigError(
            f"privacy.dp.epsilon: {spec.epsilon} cannot be reached in {planned} steps at a sampling rate of "
            f"{sample_rate:.3g} ({error}); raise epsilon, or train fewer steps (training.epochs, training.max_steps)."
        ) from None
    trainer.create_optimizer_and_scheduler(num_training_steps=planned)
    engine = PrivacyEngine(accountant=ACCOUNTANT)
    hooks, optimizer, private_loader = engine.make_private(
        module=model,
        optimizer=trainer.optimizer,
        data_loader=loader,
        noise_multiplier=noise,
        max_grad_norm=spec.max_grad_norm,
        poisson_sampling=True,
        wrap_model=False,
    )
    # Opacus' own stand-in for an empty first batch breaks on mapping examples; we handle empty batches ourselves.
    private_loader.collate_fn = _EmptySafe(trainer.data_collator)
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    initial = {name: p.detach().clone() for name, p in trainable.items()}
    started = time.perf_counter()
    try:
        loop = _Loop(trainer, engine, optimizer, spec, planned, steps_per_epoch)
        examples = loop.run(private_loader)
    finally:
        hooks.cleanup()
    seconds = time.perf_counter() - started
    if loop.learned:
        _check_moved(trainable, initial)
    loop.load_best(trainable)
    steps = _accounted_steps(engine)
    record = {
        "epsilon_target": spec.epsilon,
        "epsilon": round(float(engine.get_epsilon(delta)), 4),
        "delta": delta,
        "max_grad_norm": spec.max_grad_norm,
        "noise_multiplier": round(float(noise), 4),
        "sample_rate": sample_rate,
        "expected_batch_size": round(n_train * sample_rate, 2),
        "steps": steps,
        "planned_steps": planned,
        "accountant": ACCOUNTANT,
        "trainable_parameters": sum(p.numel() for p in trainable.values()),
    }
    return PrivateRun(record, examples / max(seconds, 1e-9))


def _freeze_embeddings(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            module.weight.requires_grad_(False)


def _accounted_steps(engine: Any) -> int:
    # Each history entry is (noise multiplier, sample rate, steps); the accountant counts only real steps.
    return int(sum(entry[2] for entry in engine.accountant.history))


def _check_moved(trainable: dict[str, torch.nn.Parameter], initial: dict[str, torch.Tensor]) -> None:
    """Every trainable tensor gets noise at every step, so one that did not change was never updated."""
    stuck = [name for name, p in trainable.items() if torch.equal(p.detach(), initial[name])]
    if stuck:
        raise TrainingError(
            f"differentially private training left {len(stuck)} of {len(trainable)} trainable tensors unchanged "
            f"(e.g. {stuck[0]}): the optimizer did not update the model's own weights (see opacus#820). "
            "Nothing was registered; report this with the recipe."
        )


class _EmptySafe:
    """The task's collator, with ``{}`` for the empty batch Poisson sampling sometimes draws."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator

    def __call__(self, examples: list[Any]) -> Any:
        return self.collator(examples) if examples else {}


def _batch_size(batch: Any) -> int:
    if not isinstance(batch, Mapping) or not batch:
        return 0
    return int(next(iter(batch.values())).shape[0])


class _Loop:
    """The steps of one DP run, driving the Trainer's callbacks (progress bar, early stopping) and log."""

    def __init__(
        self, trainer: Any, engine: Any, optimizer: Any, spec: DPSpec, planned: int, steps_per_epoch: int
    ) -> None:
        self.trainer, self.engine, self.optimizer, self.spec = trainer, engine, optimizer, spec
        self.planned, self.steps_per_epoch = planned, steps_per_epoch
        args = trainer.args
        self.eval_steps = steps_per_epoch if args.eval_strategy == "epoch" else int(args.eval_steps)
        self.metric = args.metric_for_best_model
        self.greater_is_better = bool(args.greater_is_better)
        self.best_value: float | None = None
        self.best: dict[str, torch.Tensor] | None = None
        self.learned = False  # whether any step ran at a learning rate above 0 (warm-up starts at 0)

    def run(self, loader: Any) -> int:
        from opacus.utils.batch_memory_manager import BatchMemoryManager

        trainer, state = self.trainer, self.trainer.state
        model, device = trainer.model, trainer.args.device
        state.max_steps, state.global_step, state.epoch = self.planned, 0, 0.0
        state.num_train_epochs = math.ceil(self.planned / self.steps_per_epoch)
        trainer.control = trainer.callback_handler.on_train_begin(trainer.args, state, trainer.control)
        examples, losses, evaluated = 0, [], 0
        with BatchMemoryManager(
            data_loader=loader, max_physical_batch_size=self.spec.physical_batch_size, optimizer=self.optimizer
        ) as physical:
            while state.global_step < self.planned and not trainer.control.should_training_stop:
                step_loss, step_examples = 0.0, 0
                for batch in physical:
                    size = _batch_size(batch)
                    if size:
                        output = model(**{key: value.to(device) for key, value in batch.items()})
                        output.loss.backward()
                        step_loss += float(output.loss.detach()) * size
                        step_examples += size
                    else:
                        self._empty_per_example_gradients()
                    learning_rate = self.optimizer.param_groups[0]["lr"]
                    before = _accounted_steps(self.engine)
                    self.optimizer.step()
                    self.optimizer.zero_grad()
                    if _accounted_steps(self.engine) == before:
                        continue  # one physical part of a larger sampled batch: the step comes with its last part
                    self.learned |= learning_rate > 0
                    trainer.lr_scheduler.step()
                    examples += step_examples
                    losses.append(step_loss / max(step_examples, 1))
                    step_loss, step_examples = 0.0, 0
                    state.global_step += 1
                    state.epoch = state.global_step / self.steps_per_epoch
                    trainer.control = trainer.callback_handler.on_step_end(trainer.args, state, trainer.control)
                    if state.global_step % trainer.args.logging_steps == 0:
                        trainer.log({"loss": sum(losses) / len(losses), "learning_rate": learning_rate})
                        losses = []
                    if state.global_step % self.eval_steps == 0:
                        self._evaluate()
                        evaluated = state.global_step
                    if state.global_step >= self.planned or trainer.control.should_training_stop:
                        break
        if evaluated != state.global_step:
            self._evaluate()  # the Trainer, too, evaluates where training stops
        trainer.control = trainer.callback_handler.on_train_end(trainer.args, state, trainer.control)
        return examples

    def _empty_per_example_gradients(self) -> None:
        # Poisson sampling can draw no example at all; the step must still add noise and be accounted.
        for p in self.optimizer.params:
            p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)

    def _evaluate(self) -> None:
        model = self.trainer.model
        metrics = self.trainer.evaluate()  # logs, and lets EarlyStoppingCallback see the metrics
        model.train()
        value = float(metrics[self.metric if self.metric.startswith("eval_") else f"eval_{self.metric}"])
        better = self.best_value is None or (
            value > self.best_value if self.greater_is_better else value < self.best_value
        )
        if better:
            self.best_value = value
            self.trainer.state.best_metric = value
            self.best = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}

    def load_best(self, trainable: dict[str, torch.nn.Parameter]) -> None:
        """The weights of the best evaluation, as the Trainer's ``load_best_model_at_end`` does."""
        if self.best is None:
            return
        with torch.no_grad():
            for name, p in trainable.items():
                p.copy_(self.best[name])
