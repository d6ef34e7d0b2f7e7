"""Served predictions on record, and users' corrections of them.

Every prediction the server answers is logged by ``PredictionLog`` off the request
path: its input is scrubbed of PII with a length-keeping mask (so entity offsets in
a correction still point at the right characters), encrypted under the data key,
and stored with a keyed digest that finds repeated inputs without keeping them.

Feedback names a prediction id and gives the right label (classification) or the
right entities (NER), with an optional comment (scrubbed and encrypted too).
Corrections of the same input that disagree are flagged as conflicts, never merged;
a developer accepts or rejects each one.

Logged predictions are kept ``MODELYARD_PREDICTION_RETENTION_DAYS`` (default 90): the
writer thread prunes older ones hourly, and ``modelyard feedback prune`` does it on
demand. A prediction that feedback refers to is kept: it holds the corrected input.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from modelyard import settings, store
from modelyard.background import BatchWriter
from modelyard.errors import AlreadyExists, DataError, NotFound
from modelyard.privacy import crypto, default_detector
from modelyard.privacy.operators import anonymize
from modelyard.privacy.operators.mask import Mask

log = logging.getLogger(__name__)
STATUSES = ("pending", "accepted", "rejected")
# Same length as what it hides: offsets into a stored input stay those of the text the user sent.
_STORED_MASK = Mask(keep_last=0)


@dataclass(frozen=True)
class LoggedPrediction:
    id: str
    model_name: str
    version: int
    project: str
    text: str
    output: dict[str, Any]
    key_id: str | None


@dataclass(frozen=True)
class Feedback:
    id: int
    prediction_id: str
    model_name: str
    correct_label: str | None
    correct_entities: list[dict[str, Any]] | None
    comment: str | None
    status: str
    conflict: bool
    created_at: datetime


class _Sealer:
    """Scrubs, encrypts and digests texts for the store (one detector and vault per process)."""

    def __init__(self) -> None:
        self.detector = default_detector(names=False)
        self.vault = crypto.Vault()
        self._salts: dict[str, bytes] = {}

    def scrub(self, text: str) -> str:
        findings = self.detector.find(text)
        return anonymize(text, findings, _STORED_MASK) if findings else text

    def digest(self, project: str, scrubbed: str) -> str:
        if project not in self._salts:
            self._salts[project] = crypto.project_salt(project)
        return hmac.new(self._salts[project], scrubbed.encode("utf-8"), hashlib.sha256).hexdigest()

    def record(self, item: LoggedPrediction) -> store.PredictionRecord:
        scrubbed = self.scrub(item.text)
        return store.PredictionRecord(
            id=item.id,
            model_name=item.model_name,
            version=item.version,
            project=item.project,
            input_token=self.vault.encrypt(scrubbed, context=f"prediction:{item.id}"),
            input_digest=self.digest(item.project, scrubbed),
            output=item.output,
            key_id=item.key_id,
            created_at=datetime.now(UTC),
        )


_sealer_lock = threading.Lock()
_sealers: dict[str, _Sealer] = {}


def _sealer() -> _Sealer:
    """One sealer per modelyard home: its vault caches that home's data keys."""
    from modelyard import settings

    home = str(settings.home())
    with _sealer_lock:
        if home not in _sealers:
            _sealers[home] = _Sealer()
        return _sealers[home]


class PredictionLog:
    """Queues served predictions and writes them in batches on a background thread.

    Scrubbing and encryption happen on that thread too, so a request never waits on
    them; ``flush`` makes everything queued so far visible (feedback calls it when it
    cannot find the prediction it names yet).
    """

    PRUNE_EVERY = 3600.0
    """Seconds between retention passes on the writer thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self._writer: BatchWriter[LoggedPrediction] = BatchWriter(self._write, name="prediction-log", interval=interval)
        self._pruned_at: float | None = None

    def record(self, item: LoggedPrediction) -> None:
        self._writer.put(item)

    def flush(self, timeout: float = 10.0) -> None:
        self._writer.flush(timeout)

    def close(self) -> None:
        self._writer.close(timeout=30)

    def _write(self, batch: list[LoggedPrediction]) -> None:
        sealer = _sealer()
        rows = [sealer.record(item) for item in batch]
        with store.session() as db:
            db.add_all(rows)
        now = time.monotonic()
        if self._pruned_at is None or now - self._pruned_at >= self.PRUNE_EVERY:
            self._pruned_at = now
            self._prune()

    @staticmethod
    def _prune() -> None:
        try:
            days = settings.prediction_retention_days()
            if days:
                prune_predictions(timedelta(days=days))
        except Exception:  # the batch above is written; a failed retention pass must not read as a lost batch
            log.exception("the prediction log's retention pass failed; logged predictions are kept")


def prune_predictions(older_than: timedelta) -> int:
    """Delete logged predictions older than ``older_than`` that no feedback refers to; how many went."""
    if older_than <= timedelta(0):
        raise DataError(f"the retention period must be positive, not {older_than}")
    cutoff = datetime.now(UTC) - older_than
    referenced = select(store.FeedbackRecord.prediction_id)
    with store.session() as db:
        result = db.execute(
            delete(store.PredictionRecord)
            .where(store.PredictionRecord.created_at < cutoff, store.PredictionRecord.id.not_in(referenced))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def prediction_source(prediction_id: str) -> tuple[str, int]:
    """The model name and version number that made a logged prediction."""
    with store.session() as db:
        row = db.get(store.PredictionRecord, prediction_id)
        if row is None:
            raise NotFound(_no_prediction(prediction_id))
        return row.model_name, row.version


def stored_input(prediction_id: str) -> str:
    """The stored (scrubbed) input of a prediction, decrypted."""
    with store.session() as db:
        row = db.get(store.PredictionRecord, prediction_id)
        if row is None:
            raise NotFound(_no_prediction(prediction_id))
        return crypto.Vault().decrypt(row.input_token, context=f"prediction:{row.id}")


def _no_prediction(prediction_id: str) -> str:
    return (
        f"no prediction {prediction_id!r}: feedback must quote the 'id' of a prediction this deployment served "
        "(see the predict response)"
    )


def submit(
    prediction_id: str,
    *,
    labels: list[str],
    correct_label: str | None = None,
    correct_entities: list[dict[str, Any]] | None = None,
    comment: str | None = None,
    key_id: str | None = None,
) -> Feedback:
    """Store a correction of a prediction; ``labels`` are the served version's (tags for NER)."""
    if (correct_label is None) == (correct_entities is None):
        raise DataError("give exactly one of correct_label (classification) or correct_entities (NER)")
    with store.session() as db:
        prediction = db.get(store.PredictionRecord, prediction_id)
        if prediction is None:
            raise NotFound(_no_prediction(prediction_id))
        if correct_label is not None and correct_label not in labels:
            raise DataError(
                f"correct_label {correct_label!r} is not a label of model {prediction.model_name!r}; "
                f"its labels: {', '.join(labels[:20])}{' …' if len(labels) > 20 else ''}"
            )
        if correct_entities is not None:
            text = crypto.Vault().decrypt(prediction.input_token, context=f"prediction:{prediction.id}")
            correct_entities = _checked_entities(correct_entities, text, labels)
        sealer = _sealer()
        row = store.FeedbackRecord(
            prediction_id=prediction_id,
            model_name=prediction.model_name,
            input_digest=prediction.input_digest,
            correct_label=correct_label,
            correct_entities=correct_entities,
            key_id=key_id,
        )
        db.add(row)
        db.flush()
        if comment:
            row.comment_token = sealer.vault.encrypt(sealer.scrub(comment), context=f"feedback:{row.id}")
        _flag_conflicts(db, row.model_name, row.input_digest)
        db.flush()
        return _info(row)


def _checked_entities(entities: list[dict[str, Any]], text: str, tags: list[str]) -> list[dict[str, Any]]:
    from modelyard.tasks.token_classification.tags import Span, check_spans

    types = sorted({tag[2:] for tag in tags if tag[:2] in ("B-", "I-")})
    spans = []
    for index, entity in enumerate(entities):
        try:
            span = Span(int(entity["start"]), int(entity["end"]), str(entity["label"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"correct_entities[{index}] needs integer 'start', 'end' and a 'label'") from None
        if span.label not in types:
            raise DataError(f"correct_entities[{index}]: unknown entity type {span.label!r}; known: {', '.join(types)}")
        spans.append(span)
    check_spans(text, spans, where="correct_entities")
    return [{"start": s.start, "end": s.end, "label": s.label} for s in sorted(spans, key=lambda s: s.start)]


def _correction(row: store.FeedbackRecord) -> Any:
    return row.correct_label if row.correct_label is not None else repr(row.correct_entities)


def _flag_conflicts(db: Any, model_name: str, digest: str) -> None:
    """Flag every live correction of one input when they do not all agree; clear the flags when they do."""
    group = db.scalars(
        select(store.FeedbackRecord).where(
            store.FeedbackRecord.model_name == model_name,
            store.FeedbackRecord.input_digest == digest,
            store.FeedbackRecord.status != "rejected",
        )
    ).all()
    disagree = len({_correction(r) for r in group}) > 1
    for row in group:
        row.conflict = disagree


def decide(feedback_id: int, status: str) -> Feedback:
    """Accept or reject a correction; accepting one that contradicts an accepted one is refused."""
    if status not in ("accepted", "rejected"):
        raise DataError(f"status must be accepted or rejected, not {status!r}")
    with store.session() as db:
        row = db.get(store.FeedbackRecord, feedback_id)
        if row is None:
            raise NotFound(f"no feedback {feedback_id}; see `modelyard feedback list`")
        if status == "accepted":
            rival = db.scalars(
                select(store.FeedbackRecord).where(
                    store.FeedbackRecord.model_name == row.model_name,
                    store.FeedbackRecord.input_digest == row.input_digest,
                    store.FeedbackRecord.status == "accepted",
                    store.FeedbackRecord.id != row.id,
                )
            ).first()
            if rival is not None and _correction(rival) != _correction(row):
                raise AlreadyExists(
                    f"feedback {row.id} contradicts accepted feedback {rival.id} on the same input; "
                    f"reject one of them first"
                )
        row.status, row.decided_at = status, datetime.now(UTC)
        _flag_conflicts(db, row.model_name, row.input_digest)
        db.flush()
        return _info(row)


def list_feedback(model_name: str | None = None, status: str | None = None, limit: int = 100) -> list[Feedback]:
    """Newest first."""
    if status is not None and status not in STATUSES:
        raise DataError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    with store.session() as db:
        query = select(store.FeedbackRecord).order_by(store.FeedbackRecord.id.desc()).limit(limit)
        if model_name is not None:
            query = query.where(store.FeedbackRecord.model_name == model_name)
        if status is not None:
            query = query.where(store.FeedbackRecord.status == status)
        return [_info(row) for row in db.scalars(query)]


def _info(row: store.FeedbackRecord) -> Feedback:
    comment = None
    if row.comment_token:
        comment = crypto.Vault().decrypt(row.comment_token, context=f"feedback:{row.id}")
    return Feedback(
        row.id,
        row.prediction_id,
        row.model_name,
        row.correct_label,
        row.correct_entities,
        comment,
        row.status,
        row.conflict,
        row.created_at,
    )


@dataclass(frozen=True)
class Correction:
    """An accepted correction with the stored (scrubbed) input it corrects."""

    feedback_id: int
    text: str
    correct_label: str | None
    correct_entities: list[dict[str, Any]] | None


def accepted(model_name: str) -> list[Correction]:
    """Accepted corrections of ``model_name``, oldest first, one per input (the latest accepted wins)."""
    vault = crypto.Vault()
    with store.session() as db:
        rows = db.execute(
            select(store.FeedbackRecord, store.PredictionRecord)
            .join(store.PredictionRecord, store.PredictionRecord.id == store.FeedbackRecord.prediction_id)
            .where(store.FeedbackRecord.model_name == model_name, store.FeedbackRecord.status == "accepted")
            .order_by(store.FeedbackRecord.id)
        ).all()
        latest: dict[str, Correction] = {}
        for item, prediction in rows:
            text = vault.decrypt(prediction.input_token, context=f"prediction:{prediction.id}")
            latest.pop(item.input_digest, None)  # re-insert: dict order follows the latest acceptance
            latest[item.input_digest] = Correction(item.id, text, item.correct_label, item.correct_entities)
        return list(latest.values())
