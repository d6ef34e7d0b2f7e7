"""The ``modelyard`` command: a table of commands, each a thin call into the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.errors import ModelyardError

M = TypeVar("M", bound=BaseModel)

out = Console()
err = Console(stderr=True)


class _ErrorsAsMessages(typer.core.TyperGroup):
    """Library errors become one red line and a non-zero exit; ``--debug`` shows the traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors its own click: its Context type is private
        try:
            return super().invoke(ctx)
        except ModelyardError as error:
            if ctx.params.get("debug"):
                raise
            from modelyard.privacy.messages import scrub_message

            message = scrub_message(str(error))  # an error may quote the data it refuses
            err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None


app = typer.Typer(
    cls=_ErrorsAsMessages,
    help="Turn a pretrained transformer into a production model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
datasets_app = typer.Typer(help="Fetch pinned public data sets.", no_args_is_help=True)
data_app = typer.Typer(help="Import and list your own labelled data.", no_args_is_help=True)
models_app = typer.Typer(help="List, inspect, promote and delete model versions.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(data_app, name="data")
keys_app = typer.Typer(help="API keys (create, list, revoke) and the encryption keys.", no_args_is_help=True)
privacy_app = typer.Typer(help="Find and scrub personal data in files.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(privacy_app, name="privacy")
feedback_app = typer.Typer(help="Review users' corrections of served predictions.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    """Global options (``--debug`` is read by ``main``)."""


@datasets_app.command("fetch")
def datasets_fetch(name: str, force: Annotated[bool, typer.Option(help="Download and convert again.")] = False) -> None:
    """Download a pinned public data set, verify its SHA-256 and convert it to CSV splits."""
    from modelyard.data import fetch

    with err.status(f"fetching {name}"):
        fetched = fetch.fetch(name, force=force)
    out.print(f"[green]{fetched.name}[/] in {fetched.folder}")
    for split, path in fetched.splits.items():
        out.print(f"  {split}: {path}")


@datasets_app.command("list")
def datasets_list() -> None:
    """The data sets `datasets fetch` knows."""
    from modelyard.data import fetch

    for name in fetch.known_datasets():
        cached = fetch.fetched_path(name)
        out.print(f"{name}  {'fetched: ' + str(cached.folder) if cached else 'not fetched'}")


@data_app.command("import")
def data_import(
    file: Path,
    project: Annotated[str, typer.Option(help="Project the data set belongs to.")] = "default",
    name: Annotated[str | None, typer.Option(help="Data set name (default: the file name).")] = None,
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column holding the label.")] = "label",
    label_separator: Annotated[str | None, typer.Option(help="Multi-label: separator inside the label column.")] = None,
    split_column: Annotated[str | None, typer.Option(help="Column with train/validation/test per row.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the stratified split.")] = 42,
    task: Annotated[str, typer.Option(help="text-classification | token-classification (NER).")] = (
        "text-classification"
    ),
    tag_scheme: Annotated[str, typer.Option(help="NER CoNLL files: IOB2 | IOB1 | IOBES.")] = "IOB2",
    entities_column: Annotated[str, typer.Option(help="NER JSONL: key of the character spans.")] = "entities",
    pii: Annotated[bool, typer.Option(help="Scrub personal data from the text (recorded when turned off).")] = True,
    pii_operator: Annotated[str, typer.Option(help="replace | mask | hash | encrypt")] = "replace",
) -> None:
    """Validate, split and version a labelled file (CSV, TSV, JSONL, Parquet; NER: CoNLL or span JSONL)."""
    from modelyard.config import DataSpec, PiiSpec
    from modelyard.data.validate import warnings_of
    from modelyard.data.versions import import_data

    spec = _validated(
        DataSpec,
        path=file.resolve(),
        text_column=text_column,
        label_column=label_column,
        label_separator=label_separator,
        split_column=split_column,
        split_seed=seed,
        tag_scheme=tag_scheme,
        entities_column=entities_column,
        pii=_validated(PiiSpec, scrub=pii, operator=pii_operator),
    )
    version = import_data(spec, project=project, name=name, task=task)
    out.print(f"[green]imported[/] {version.ref}  splits {version.split_sizes}  {len(version.labels)} labels")
    scrubbed = version.report.get("pii", {})
    if scrubbed.get("scrubbed"):
        found = ", ".join(f"{kind} {n}" for kind, n in scrubbed["findings"].items()) or "none found"
        out.print(f"personal data scrubbed ({scrubbed['operator']}): {found}")
    elif scrubbed:
        err.print("[yellow]warning:[/] personal data was NOT scrubbed (--no-pii); this is recorded in the version")
    for warning in warnings_of(version.report):
        err.print(f"[yellow]warning:[/] {warning}")


@data_app.command("list")
def data_list(project: Annotated[str | None, typer.Option()] = None) -> None:
    """Imported dataset versions."""
    from modelyard.data.versions import list_versions

    table = Table("dataset", "hash", "splits", "labels")
    for version in list_versions(project):
        table.add_row(
            f"{version.project}/{version.name}",
            version.content_hash[:12],
            json.dumps(version.split_sizes),
            str(len(version.labels)),
        )
    out.print(table)


@app.command()
def train(
    recipe: Path,
    resume: Annotated[bool, typer.Option(help="Continue the last interrupted run of this recipe.")] = False,
) -> None:
    """Fine-tune a model from a YAML recipe, evaluate it and register the version."""
    from modelyard import tasks
    from modelyard import train as training
    from modelyard.config import load_recipe

    loaded = load_recipe(recipe)
    result = training.run(loaded, resume=resume, console=err)
    if result.version is not None:
        out.print(f"[green]registered[/] {result.version.ref}  ({result.version.path})")
        out.print(f"{result.metrics['split']}: {tasks.get(loaded.task).summary(result.metrics)}")
        out.print(f"train {result.train_seconds:.0f}s · {result.examples_per_second:.1f} examples/s")


@app.command()
def evaluate(
    model: str,
    data: Annotated[Path, typer.Option(help="Labelled file: CSV, TSV, JSONL, Parquet; NER: CoNLL or span JSONL.")],
    text_column: Annotated[str, typer.Option()] = "text",
    label_column: Annotated[str, typer.Option()] = "label",
    tag_scheme: Annotated[str | None, typer.Option(help="NER CoNLL files: IOB2 | IOB1 | IOBES.")] = None,
    output: Annotated[Path | None, typer.Option(help="Folder for report.json/.md and plots.")] = None,
    document_consistency: Annotated[
        float | None,
        typer.Option(help="NER: read with this weight (0-1) instead of the version's, to choose one; no retraining."),
    ] = None,
) -> None:
    """Evaluate NAME[:VERSION] on any labelled file."""
    from modelyard import evaluate as evaluation
    from modelyard import registry, tasks

    result = evaluation.run(
        model,
        data,
        text_column=text_column,
        label_column=label_column,
        output=output,
        tag_scheme=tag_scheme,
        document_consistency=document_consistency,
    )
    summary = tasks.get(registry.get(result.ref).task).summary(result.metrics)
    out.print(f"{result.ref} on {data.name}: {summary}")
    out.print(f"report: {result.files.get('report.md', result.folder)}")


@app.command("export")
def export_model(
    model: str,
    format: Annotated[str, typer.Option("--format", help="Only onnx for now.")] = "onnx",
    quantize: Annotated[str, typer.Option(help="int8 (served by default) | none")] = "int8",
) -> None:
    """Export NAME[:VERSION] to ONNX (int8 by default), check it against torch and store it with the version."""
    from modelyard import export

    with err.status(f"exporting {model}"):
        result = export.run(model, format=format, quantize=quantize)  # type: ignore[arg-type]  # run validates
    table = Table("file", "MB", "max Δprob", "accuracy (torch)", "agreement", "parity")
    for name, parity in result.parity.items():
        table.add_row(
            name,
            f"{result.sizes[name] / 1e6:.1f}",
            f"{parity.max_prob_diff:.4f}",
            f"{parity.accuracy:.4f} ({parity.torch_accuracy:.4f})",
            f"{parity.agreement:.4f}",
            "[green]ok[/]" if parity.passed else "[red]failed[/]",
        )
    out.print(table)
    parity = result.parity[result.served_file]
    out.print(
        f"{result.ref}: torch weights {result.weights_bytes / 1e6:.1f} MB; parity on {parity.n} {parity.split} "
        f"examples; usable: {'[green]yes[/]' if result.usable else '[red]no[/]'} ({result.seconds:.0f}s)"
    )
    if result.fell_back:
        err.print(
            f"[yellow]{export.INT8_FILE} is outside the parity tolerance ({'; '.join(result.failures)}); "
            f"the fp32 {export.FP32_FILE} is served instead[/]"
        )
    result.check()


@app.command()
def predict(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to classify.")] = None,
    model: Annotated[str, typer.Option(help="NAME[:VERSION]; a bare name uses the production version.")] = "",
    file: Annotated[Path | None, typer.Option(help="Classify every row of this file instead.")] = None,
    output: Annotated[Path | None, typer.Option(help="CSV to write with --file.")] = None,
    text_column: Annotated[str, typer.Option()] = "text",
    top_k: Annotated[int, typer.Option(min=1)] = 3,
    document_column: Annotated[
        str | None,
        typer.Option(help="NER with --file: rows sharing this column's value are one document's texts, in order."),
    ] = None,
) -> None:
    """Top-k labels with probabilities (classification) or entity spans (NER) for texts or a file."""
    from modelyard import predict as prediction
    from modelyard.errors import ConfigError

    if not model:
        raise ConfigError("name the model: --model NAME[:VERSION] (see `modelyard models list`)")
    if document_column is not None and file is None:
        raise ConfigError("--document-column reads documents from a file: give --file too")
    if file is not None:
        if output is None:
            raise ConfigError("--file needs --output PATH.csv for the predictions")
        rows = prediction.predict_file(model, file, output, text_column, top_k, document_column)
        out.print(f"wrote {rows} predictions to {output}")
        return
    version, results = prediction.predict_texts(model, list(texts or []), top_k)
    for text, found in zip(texts or [], results, strict=True):
        out.print(f"[bold]{text}[/]  ({version.ref})")
        for item in found:
            if version.task == "token-classification":
                out.print(f"  {item.score:7.4f}  {item.label:<8} {item.text!r} [{item.start}:{item.end}]")
            else:
                out.print(f"  {item.probability:7.4f}  {item.label}")
        if not found:
            out.print("  (no entities)")


@models_app.command("list")
def models_list(name: Annotated[str | None, typer.Argument()] = None) -> None:
    """Registered model versions."""
    from modelyard import registry

    table = Table("model", "stage", "task", "method", "base", "accuracy", "macro-F1", "created")
    for v in registry.list_versions(name):
        table.add_row(
            v.ref,
            v.stage,
            v.task,
            v.method,
            v.base_model,
            _fmt(v.metrics.get("accuracy")),
            _fmt(v.metrics.get("macro_f1")),
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)


@models_app.command("show")
def models_show(model: str) -> None:
    """Everything about one version: config, metrics, lineage, packages (JSON)."""
    from modelyard import registry

    out.print_json(json.dumps(registry.card(registry.get(model)), default=str))


@models_app.command("promote")
def models_promote(model: str, stage: Annotated[str, typer.Option(help="staging | production | archived")]) -> None:
    """Move a version to a stage; a new production version archives the previous one."""
    from modelyard import registry

    version = registry.promote(model, stage)
    out.print(f"{version.ref} is now [bold]{version.stage}[/]")


@models_app.command("rollback")
def models_rollback(name: str) -> None:
    """Put back the production version the current one replaced."""
    from modelyard import audit, registry

    restored = registry.rollback(name)
    audit.record(None, "rollback", f"model:{restored.ref}", "ok (cli)")
    out.print(f"[green]{restored.ref}[/] is production again")


@models_app.command("decisions")
def models_decisions(name: Annotated[str | None, typer.Argument()] = None) -> None:
    """What `retrain`'s gate decided, with the scores it compared."""
    from modelyard.retrain import decisions

    table = Table("model", "candidate", "baseline", "promoted", "reasons", "when")
    for row in decisions(name):
        promoted = "[green]yes[/]" if row["promoted"] else "[red]no[/]"
        table.add_row(
            row["model"],
            str(row["candidate"]),
            str(row["baseline"]),
            promoted,
            "\n".join(row["reasons"]),
            row["at"][:16],
        )
    out.print(table)


@models_app.command("soup")
def models_soup(models: Annotated[list[str], typer.Argument(help="Two or more versions of one model.")]) -> None:
    """Register the mean of several versions' weights (runs of one recipe with other seeds) as a new version."""
    from modelyard import soup, tasks

    version = soup.make(models)
    task = tasks.get(version.task)
    record = version.metrics["soup"]
    out.print(f"registered [bold]{version.ref}[/], the soup of {', '.join(models)}")
    for ref, figures in record.get("validation", {}).items():
        out.print(f"  validation, {ref}: " + " ".join(f"{key} {value:.4f}" for key, value in figures.items()))
    for ref, figures in record["ingredient_metrics"].items():
        out.print(f"  {version.metrics.get('split')}, {ref}: " + " ".join(f"{k} {v:.4f}" for k, v in figures.items()))
    out.print(f"  {version.metrics.get('split')}, soup: {task.summary(version.metrics)}")


@models_app.command("delete")
def models_delete(model: str, force: Annotated[bool, typer.Option(help="Allow deleting production.")] = False) -> None:
    """Delete one version and its files."""
    from modelyard import registry

    version = registry.delete(model, force=force)
    out.print(f"deleted {version.ref}")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin | developer | client")] = "client",
    project: Annotated[list[str] | None, typer.Option(help="Project the key may use (repeat; '*' for all).")] = None,
    name: Annotated[str, typer.Option(help="A note saying who or what holds the key.")] = "",
) -> None:
    """Create an API key; it is printed once and cannot be shown again."""
    from modelyard import access, audit

    created = access.create(role, list(project or []), name)
    audit.record(None, "create_key", f"key:{created.principal.key_id}", "ok (cli)")
    err.print(f"key {created.principal.key_id} · role {role} · projects {', '.join(created.principal.projects)}")
    err.print("store it now; it is not shown again:")
    out.print(created.key, highlight=False)


@keys_app.command("list")
def keys_list() -> None:
    """API keys (ids, roles, projects, state; never the secrets)."""
    from modelyard import access

    table = Table("key id", "role", "projects", "name", "created", "revoked")
    for principal, created, revoked in access.list_keys():
        table.add_row(
            principal.key_id,
            principal.role,
            ", ".join(principal.projects),
            principal.name,
            created.strftime("%Y-%m-%d %H:%M"),
            revoked.strftime("%Y-%m-%d %H:%M") if revoked else "",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key; every server refuses it within a few seconds."""
    from modelyard import access, audit

    access.revoke(key_id)
    audit.record(None, "revoke_key", f"key:{key_id}", "ok (cli)")
    out.print(f"revoked {key_id}")


@keys_app.command("init")
def keys_init() -> None:
    """Create the master key file (0600) that encrypts data at rest; back it up."""
    from modelyard.privacy import crypto

    path = crypto.create_master_key()
    out.print(f"master key written to {path} (mode 0600). Back it up: encrypted data cannot be read without it.")


@keys_app.command("rotate-data-key")
def keys_rotate_data_key() -> None:
    """New data key for new writes; stored data re-encrypted under it; unused old keys retired."""
    from modelyard.privacy.rotation import rotate_data_key

    report = rotate_data_key()
    out.print(f"active data key {report.new_key}; re-encrypted {report.reencrypted} file(s)")
    if report.retired:
        out.print(f"retired {', '.join(report.retired)}")
    if report.kept:
        err.print(f"[yellow]kept[/] {', '.join(report.kept)}: still in use by data written meanwhile; rotate again")


PiiColumns = Annotated[list[str] | None, typer.Option("--column", help="Only these columns (repeat; default all).")]
PiiTypes = Annotated[list[str] | None, typer.Option("--type", help="Only these PII types (repeat; e.g. EMAIL).")]


@privacy_app.command("scan")
def privacy_scan(file: Path, column: PiiColumns = None, pii_type: PiiTypes = None) -> None:
    """Count the personal data in a file, by column and type (never printing the values)."""
    from modelyard.privacy import default_detector
    from modelyard.privacy.scrub import scan_file

    result = scan_file(file, column, default_detector(types=pii_type))
    table = Table("column", *result["total"].keys())
    for name, counts in result["columns"].items():
        table.add_row(name, *(str(counts.get(kind, 0)) for kind in result["total"]))
    out.print(table)
    out.print(f"{result['rows_with_pii']} of {result['rows']} rows hold personal data · {result['recognizers']}")


@privacy_app.command("redact")
def privacy_redact(
    file: Path,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the scrubbed copy.")],
    column: PiiColumns = None,
    pii_type: PiiTypes = None,
    operator: Annotated[str, typer.Option(help="replace | mask | hash | encrypt")] = "replace",
    project: Annotated[str, typer.Option(help="Whose salt (hash) or context (encrypt) to use.")] = "default",
) -> None:
    """Write a copy of a file with the personal data replaced."""
    from modelyard.privacy import default_detector
    from modelyard.privacy.scrub import Scrubber, operator_for, redact_file

    scrubber = Scrubber(default_detector(types=pii_type), operator_for(operator, project))
    result = redact_file(file, output, column, scrubber)
    found = ", ".join(f"{kind} {n}" for kind, n in result["replaced"].items()) or "nothing found"
    out.print(f"[green]wrote[/] {output} ({result['rows']} rows): {found}")


@feedback_app.command("list")
def feedback_list(
    model: Annotated[str | None, typer.Option(help="Only this model's feedback.")] = None,
    status: Annotated[str | None, typer.Option(help="pending | accepted | rejected")] = None,
    limit: Annotated[int, typer.Option()] = 100,
) -> None:
    """Corrections, newest first; conflicting corrections of one input are flagged."""
    from modelyard import feedback

    table = Table("id", "model", "prediction", "correction", "status", "conflict", "comment")
    for item in feedback.list_feedback(model, status, limit):
        correction = item.correct_label or json.dumps(item.correct_entities)
        flag = "[red]conflict[/]" if item.conflict else ""
        table.add_row(
            str(item.id), item.model_name, item.prediction_id[:12], correction, item.status, flag, item.comment
        )
    out.print(table)


@feedback_app.command("accept")
def feedback_accept(feedback_id: int) -> None:
    """Accept a correction: retraining will learn from it."""
    from modelyard import audit, feedback

    feedback.decide(feedback_id, "accepted")
    audit.record(None, "feedback_accepted", f"feedback:{feedback_id}", "ok (cli)")
    out.print(f"accepted feedback {feedback_id}")


@feedback_app.command("reject")
def feedback_reject(feedback_id: int) -> None:
    """Reject a correction: it is kept on record but never trained on."""
    from modelyard import audit, feedback

    feedback.decide(feedback_id, "rejected")
    audit.record(None, "feedback_rejected", f"feedback:{feedback_id}", "ok (cli)")
    out.print(f"rejected feedback {feedback_id}")


@feedback_app.command("prune")
def feedback_prune(
    days: Annotated[
        int | None,
        typer.Option("--older-than-days", help="Default: $MODELYARD_PREDICTION_RETENTION_DAYS (90).", min=1),
    ] = None,
) -> None:
    """Delete logged predictions older than the retention period (those that feedback refers to stay)."""
    from datetime import timedelta

    from modelyard import audit, feedback, settings

    keep = days if days is not None else settings.prediction_retention_days()
    if keep == 0:
        out.print("retention is 0 (keep forever): nothing pruned; pass --older-than-days N to prune anyway")
        return
    removed = feedback.prune_predictions(timedelta(days=keep))
    audit.record(None, "predictions_pruned", f"older-than:{keep}d", f"ok (cli): {removed}")
    out.print(f"deleted {removed} logged predictions older than {keep} days")


@app.command("explain")
def explain_command(
    model: Annotated[str, typer.Argument(help="NAME[:VERSION]; a bare name uses the production version.")],
    text: Annotated[str, typer.Argument(help="The text whose prediction to explain.")],
    label: Annotated[str | None, typer.Option(help="Explain toward this label (NER: a type; needs --span).")] = None,
    steps: Annotated[int | None, typer.Option(min=1, max=512, help="Integrated-gradients steps (default 32).")] = None,
    span: Annotated[str | None, typer.Option(help="NER: START:END character offsets of the entity to explain.")] = None,
) -> None:
    """Which words pushed the model toward its prediction (or --label): integrated-gradients scores per word."""
    from modelyard import explain as explaining
    from modelyard.errors import ConfigError

    bounds = None
    if span is not None:
        start, _, end = span.partition(":")
        if not (start.isdigit() and end.isdigit()):
            raise ConfigError(f"--span {span!r}: give START:END character offsets, e.g. --span 0:13")
        bounds = (int(start), int(end))
    version, result = explaining.explain(model, text, label, n_steps=steps, span=bounds)
    out.print(
        f"[bold]{version.ref}[/]  {result.method}, {result.n_steps} steps, {result.elapsed_ms:.0f} ms"
        + ("  [yellow](text truncated to the model's max_length)[/]" if result.truncated else "")
    )
    if not result.attributions:
        out.print("  (no entities to explain)")
    for item in result.attributions:
        where = f" [{item.span[0]}:{item.span[1]}] {text[item.span[0] : item.span[1]]!r}" if item.span else ""
        out.print(f"[bold]{escape(item.label)}[/]{escape(where)}  p={item.probability:.4f}  delta={item.delta:+.4f}")
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("word")
        table.add_column("score", justify="right")
        table.add_column("", min_width=21)
        top = max((abs(w.score) for w in item.words), default=0.0) or 1.0
        for word in item.words:
            width = round(10 * abs(word.score) / top)
            bar = " " * (10 - width) + "█" * width + "│" if word.score < 0 else " " * 10 + "│" + "█" * width
            colour = "red" if word.score < 0 else "green"
            table.add_row(escape(word.text), f"{word.score:+.4f}", f"[{colour}]{bar}[/]")
        out.print(table)


@app.command("monitor")
def monitor(
    model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(help="How many recent alerts to list.")] = 20,
    rules: Annotated[Path | None, typer.Option(help="Check this alert rules file and print its rules instead.")] = None,
) -> None:
    """Recent alerts and each model's latest window statistics (a server writes them every 30 s).

    The server reads its alert rules from the file named by MODELYARD_ALERT_RULES (see configs/alerts.yaml).
    """
    from modelyard.monitor import list_alerts, load_rules, snapshots

    if rules is not None:
        parsed = load_rules(rules)
        listed = Table("name", "metric", "op", "threshold", "window", "cooldown s", "model")
        for rule in parsed.rules:
            listed.add_row(rule.name, rule.metric, rule.op, f"{rule.threshold:g}", rule.window.key,
                           f"{rule.cooldown:g}", rule.model or "every model")  # fmt: skip
        out.print(listed)
        hook = f" webhook: {parsed.webhook.attempts} attempts" if parsed.webhook else ""
        out.print(f"{rules}: {len(parsed.rules)} rule(s), valid.{hook}")
        return
    stats = Table("model", "version", "window", "requests", "errors", "p95 ms", "confidence", "label psi",
                  "conf. psi", "embedding auc", "updated")  # fmt: skip
    for name, version, status, updated in snapshots(model):
        for window in status.get("windows", []):
            stats.add_row(
                name,
                str(version),
                window["window"] + ("" if window.get("complete") else " (filling)"),
                str(window["requests"]),
                str(window["errors"]),
                _fmt(window.get("latency_p95_ms")),
                _fmt(window.get("confidence_mean")),
                _fmt(window.get("label_psi")),
                _fmt(window.get("confidence_psi")),
                _fmt(window.get("embedding_auc")),
                updated.isoformat(timespec="seconds"),
            )
    out.print(stats if stats.rows else "no window statistics yet (a server writes them while it serves)")
    table = Table("id", "fired", "model", "rule", "value", "window", "request", "webhook")
    for alert in list_alerts(model, limit):
        table.add_row(
            str(alert.id),
            alert.fired_at.isoformat(timespec="seconds"),
            f"{alert.model_name}:{alert.version}",
            f"{alert.rule} ({alert.metric} {alert.op} {alert.threshold:g})",
            f"{alert.value:.4g}",
            alert.window,
            str(alert.details.get("request_index", "-")),
            alert.delivery + (f" ({alert.attempts})" if alert.attempts else ""),
        )
    out.print(table if table.rows else "no alerts")


@app.command()
def retrain(model: str) -> None:
    """Retrain MODEL on its data + accepted feedback; promote only if the recipe's gate passes."""
    from modelyard.retrain import retrain as run_retrain

    decision = run_retrain(model, console=err)
    for reason in decision.reasons:
        out.print(f"  {reason}")
    if decision.promoted:
        out.print(f"[green]promoted[/] {decision.candidate.ref} over {decision.baseline.ref} (data {decision.dataset})")
    else:
        out.print(f"[yellow]kept[/] {decision.baseline.ref} in production; {decision.candidate.ref} was not promoted")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    model: Annotated[list[str] | None, typer.Option(help="Serve only these names (repeat).")] = None,
    max_batch_size: Annotated[int, typer.Option(help="Texts per forward pass at most.")] = 32,
    max_wait_ms: Annotated[float, typer.Option(help="How long a request may wait for others to batch with.")] = 5.0,
    max_queue: Annotated[int, typer.Option(help="Texts waiting per model before 503.")] = 1024,
    poll_seconds: Annotated[float, typer.Option(help="Registry check interval (hot swap).")] = 5.0,
    workers: Annotated[int, typer.Option(help="Server processes on this port.")] = 1,
) -> None:
    """Serve every production model (or the named ones) over the REST API."""
    import os

    import uvicorn

    from modelyard.serve.app import ServeConfig

    config = _validated(
        ServeConfig,
        models=tuple(model) if model else None,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        poll_seconds=poll_seconds,
    )
    os.environ["MODELYARD_SERVE_CONFIG"] = config.model_dump_json()
    uvicorn.run(
        "modelyard.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _validated(model: type[M], **fields: Any) -> M:
    """Build a config model from CLI flags, turning validation errors into a ConfigError."""
    from pydantic import ValidationError

    from modelyard.config import format_validation_error
    from modelyard.errors import ConfigError

    try:
        return model(**fields)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, "command-line options", model)) from None


def main() -> None:
    """Console-script entry point."""
    from modelyard.privacy.messages import install_log_scrubbing

    install_log_scrubbing()
    app()
