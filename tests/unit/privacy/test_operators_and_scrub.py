"""Operators, scrubbing of examples (both tasks) and of log lines and error messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from modelyard.data.validate import Example
from modelyard.errors import ConfigError, DataError
from modelyard.privacy import operators
from modelyard.privacy.detect import Detector, Finding, pattern_recognizers
from modelyard.privacy.messages import install_log_scrubbing, scrub_message
from modelyard.privacy.operators.hash import Hash
from modelyard.privacy.scrub import Scrubber
from modelyard.tasks.token_classification.formats import TokenExample
from modelyard.tasks.token_classification.tags import Span, split_words

SALT = b"0123456789abcdef0123456789abcdef"


@dataclass(frozen=True)
class F:
    start: int
    end: int
    type: str


@pytest.mark.parametrize(
    ("name", "options", "value", "kind", "expected"),
    [
        ("replace", {}, "ann@example.org", "EMAIL", "<EMAIL>"),
        ("mask", {}, "4111-1111-1111-1111", "CREDIT_CARD", "****-****-****-1111"),
        ("mask", {}, "ann@example.org", "EMAIL", "***@*******.***"),
        ("mask", {"keep_last": 2}, "12", "PHONE", "*2"),  # never more than half shown
    ],
)
def test_operators(name: str, options: dict[str, object], value: str, kind: str, expected: str) -> None:
    assert operators.get(name, **options).apply(value, kind) == expected


def test_hash_is_deterministic_normalised_and_salted() -> None:
    one, other = Hash(salt=SALT), Hash(salt=SALT[::-1])
    assert one.apply("4111 1111 1111 1111", "CREDIT_CARD") == one.apply("4111-1111-1111-1111", "CREDIT_CARD")
    assert one.apply("Ann@Example.org", "EMAIL") == one.apply("ann@example.org", "EMAIL")
    assert one.apply("ann@example.org", "EMAIL") != other.apply("ann@example.org", "EMAIL")
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        Hash(salt=b"short")


def test_unknown_operator_and_bad_options() -> None:
    with pytest.raises(ConfigError, match="choose one of: replace, mask, hash, encrypt"):
        operators.get("shred")
    with pytest.raises(ConfigError, match="invalid options for operator 'replace'"):
        operators.get("replace", colour="red")


def test_anonymize_overlaps_and_bounds() -> None:
    text = "mail ann@example.org now"
    found = [F(5, 20, "EMAIL"), F(9, 20, "URL")]  # the URL lies inside the email: the email wins whole
    assert operators.anonymize(text, found, operators.get("replace")) == "mail <EMAIL> now"
    with pytest.raises(DataError, match="outside the text"):
        operators.anonymize(text, [F(5, 99, "EMAIL")], operators.get("replace"))


def _scrubber() -> Scrubber:
    return Scrubber(Detector(pattern_recognizers()), operators.get("replace"))


def test_scrub_text_examples_counts_types_not_values() -> None:
    scrubber = _scrubber()
    rows = [Example("card 4111 1111 1111 1111 lost", "lost"), Example("no pii here", "other")]
    cleaned = scrubber.examples(rows)
    assert [e.text for e in cleaned] == ["card <CREDIT_CARD> lost", "no pii here"]
    assert [e.label for e in cleaned] == ["lost", "other"]
    assert scrubber.summary() == {"CREDIT_CARD": 1}


def test_scrub_token_examples_keeps_tags_and_labelled_entities() -> None:
    text = "Anna Schmidt wrote from anna@example.org today"
    words = tuple(split_words(text))
    example = TokenExample(text, words, (Span(0, 12, "PER"),), line=3)
    scrubber = _scrubber()
    (cleaned,) = scrubber.examples([example])
    # The email is several NER words ("anna", "@", ...): each becomes a placeholder word.
    assert cleaned.text.startswith("Anna Schmidt wrote from <EMAIL> <EMAIL>") and cleaned.text.endswith(" today")
    assert "example" not in cleaned.text
    assert cleaned.tags == example.tags  # one placeholder word per word: tag sequence unchanged
    assert [cleaned.text[s.start : s.end] for s in cleaned.entities] == ["Anna Schmidt"]
    # A finding inside a labelled entity is what the model must learn: left alone.
    labelled_email = TokenExample(text, words, (Span(24, 40, "EMAIL"),))
    assert _scrubber().examples([labelled_email]) == [labelled_email]


def test_scrub_message_and_log_records(caplog: pytest.LogCaptureFixture) -> None:
    assert scrub_message("cannot parse row for ann@example.org") == "cannot parse row for <EMAIL>"
    install_log_scrubbing()
    install_log_scrubbing()  # idempotent
    log = logging.getLogger("modelyard.test")
    with caplog.at_level(logging.INFO):
        log.info("request from %s failed", "ann@example.org")
        try:
            raise ValueError("bad card 4111 1111 1111 1111")
        except ValueError:
            log.exception("unhandled")
    text = caplog.text
    assert "ann@example.org" not in text and "4111 1111" not in text
    assert "<EMAIL>" in text and "<CREDIT_CARD>" in text


def test_detector_finding_shape() -> None:
    (finding,) = Detector(pattern_recognizers()).find("write to ann@example.org")
    assert isinstance(finding, Finding)
    assert (finding.type, finding.start, finding.end) == ("EMAIL", 9, 24)
    assert 0.5 <= finding.score <= 1 and finding.recognizer
