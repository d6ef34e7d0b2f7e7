"""Keep personal data out of error messages and log lines.

An error can quote what it could not parse and a traceback can carry a request's
text; both end up in terminals, log files and log shippers. Every message we emit
goes through ``scrub_message`` first. Only the pattern recognizers run here: a
message must be cheap to write, and loading a name model to print an error would not be.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from modelyard.privacy.detect import Detector, pattern_recognizers
from modelyard.privacy.operators import anonymize
from modelyard.privacy.operators.replace import Replace


@lru_cache(maxsize=1)
def _detector() -> Detector:
    return Detector(pattern_recognizers())


def scrub_message(message: str) -> str:
    """``message`` with every pattern-type finding replaced by its placeholder (``<EMAIL>``)."""
    findings = _detector().find(message)
    return anonymize(message, findings, Replace()) if findings else message


def scrub_record(record: logging.LogRecord) -> None:
    """Rewrite a record's message and traceback text in place, before any handler formats it."""
    try:
        record.msg, record.args = scrub_message(record.getMessage()), None
    except Exception:  # a message that cannot be formatted is logged as is, never dropped
        return
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub_message(logging.Formatter().formatException(record.exc_info))


_installed = False


def install_log_scrubbing() -> None:
    """Scrub every log record this process creates, whatever logger or handler it goes to (idempotent).

    A record factory rather than a filter: filters on a logger do not see records that
    propagate from its children, and handlers come and go (uvicorn installs its own).
    """
    global _installed
    if _installed:
        return
    create = logging.getLogRecordFactory()

    def scrubbed(*args: object, **kwargs: object) -> logging.LogRecord:
        record = create(*args, **kwargs)
        scrub_record(record)
        return record

    logging.setLogRecordFactory(scrubbed)
    _installed = True
