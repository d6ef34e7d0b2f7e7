"""Alert rules: parsing (table-driven), drift statistics, and judging rules with cooldowns."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from modelyard.errors import ConfigError
from modelyard.monitor import Monitor, MonitorSettings, Observation, list_alerts, load_rules, parse_rules
from modelyard.monitor.drift import Binned, domain_auc, label_psi, psi_counts
from modelyard.monitor.rules import AlertRules, Window

ROOT = Path(__file__).resolve().parents[2]


def _rule(**fields: object) -> str:
    base: dict[str, object] = {"name": "r", "metric": "embedding_auc", "op": ">", "threshold": 0.8}
    base |= {"window": "100 requests"} | fields
    lines = [f"  {key}: {value!r}" if isinstance(value, str) else f"  {key}: {value}" for key, value in base.items()]
    return "rules:\n- " + "\n".join(lines).lstrip()


@pytest.mark.parametrize(
    ("window", "requests", "seconds"),
    [
        ("100 requests", 100, None),
        ("1 request", 1, None),
        ("300s", None, 300),
        ("5m", None, 300),
        ("2 h", None, 7200),
        ("90 seconds", None, 90),
        (50, 50, None),
        ({"requests": 20}, 20, None),
        ({"seconds": 12.5}, None, 12.5),
    ],
)
def test_window_forms(window: object, requests: int | None, seconds: float | None) -> None:
    parsed = Window.model_validate(window)
    assert (parsed.requests, parsed.seconds) == (requests, seconds)


def test_full_rule_and_defaults() -> None:
    text = """
webhook:
  url: http://127.0.0.1:9/hook
  attempts: 3
rules:
  - name: input-drift
    metric: embedding_auc
    op: ">"
    threshold: 0.75
    window: 100 requests
    cooldown: 600
    model: banking77
  - {name: slow, metric: latency_p95_ms, op: gt, threshold: 500, window: 5m}
"""
    rules = parse_rules(text)
    drift, slow = rules.rules
    assert drift.model == "banking77" and drift.cooldown == 600 and drift.window.key == "100 requests"
    assert slow.op == ">" and slow.cooldown == 3600 and slow.model is None and slow.window.key == "300 s"
    assert rules.webhook is not None and rules.webhook.attempts == 3 and rules.webhook.backoff_seconds == 1.0
    assert [r.name for r in rules.for_model("banking77")] == ["input-drift", "slow"]
    assert [r.name for r in rules.for_model("other")] == ["slow"]
    assert parse_rules("- {name: a, metric: error_rate, op: '>', threshold: 0.1, window: 10}").rules[0].name == "a"
    assert parse_rules("") == AlertRules()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_rule(treshold=1), ["line 2: rules[0] ('r')", "treshold: unknown key; allowed here: cooldown, metric"]),
        (_rule(metric="accuracy"), ["metric: Input should be 'requests'", "(found 'accuracy')"]),
        (_rule(op=">="), ["op: Input should be '>' or '<'"]),
        (_rule(window="soon"), ["window: window 'soon' is not '<n> requests'"]),
        (_rule(window={"requests": 5, "seconds": 5}), ["window: give exactly one of requests or seconds"]),
        (_rule(window="0 requests"), ["window.requests: Input should be greater than or equal to 1"]),
        (_rule(cooldown=-1), ["cooldown: Input should be greater than or equal to 0"]),
        (_rule(metric="requests"), ["metric 'requests' needs a seconds window"]),
        (_rule(name="has space"), ["name: String should match pattern"]),
        ("rules:\n- {name: a}\n- 7\n", ["line 2: rules[0] ('a')", "metric: Field required", "line 3: rules[1]"]),
        (_rule() + "\n- {name: r, metric: error_rate, op: '>', threshold: 1, window: 5}", ["two rules are named 'r'"]),
        ("rules: {name: a}", ["'rules' must be a list of rules"]),
        ("42", ["expected a list of rules or a mapping with 'rules'"]),
        ("rules: [\n", ["is not valid YAML"]),
        ("webhook: {url: ftp://x}\nrules: []", ["webhook.url: String should match pattern"]),
        ("webhook: {url: http://x, retries: 3}\nrules: []", ["webhook.retries: unknown key; allowed here: attempts"]),
    ],
)
def test_rule_errors_name_the_place(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "alerts.yaml")
    message = str(caught.value)
    assert message.startswith("alerts.yaml")
    for part in expected:
        assert part in message, message


def test_shipped_example_rules_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_ALERT_WEBHOOK", raising=False)
    rules = load_rules(ROOT / "configs" / "alerts.yaml")
    assert {r.metric for r in rules.rules} >= {"embedding_auc", "label_psi", "confidence_psi", "error_rate"}
    monkeypatch.setenv("MODELYARD_ALERT_WEBHOOK", "http://127.0.0.1:9/hook")
    assert load_rules(ROOT / "configs" / "alerts.yaml").webhook is not None
    monkeypatch.setenv("MODELYARD_ALERT_WEBHOOK", "not a url")
    with pytest.raises(ConfigError, match="MODELYARD_ALERT_WEBHOOK"):
        load_rules(ROOT / "configs" / "alerts.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_rules(ROOT / "configs" / "no-such-rules.yaml")


def test_psi() -> None:
    assert psi_counts([10, 20, 30], [10, 20, 30]) == pytest.approx(0.0)
    # Hand-computed with half-count smoothing: e = (50.5, 50.5)/101, a = (90.5, 10.5)/101.
    e, a = np.array([50.5, 50.5]) / 101, np.array([90.5, 10.5]) / 101
    assert psi_counts([50, 50], [90, 10]) == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    # An empty window bin adds a bounded amount, not infinity.
    assert np.isfinite(label_psi({"a": 0.5, "b": 0.5}, ["a"] * 20))
    assert label_psi({"a": 0.5, "b": 0.5}, []) is None
    assert label_psi({"a": 0.5, "b": 0.5}, ["a", "b"] * 50) == pytest.approx(0.0, abs=1e-9)
    binned = Binned.of(list(np.linspace(0, 1, 1000)))
    assert binned is not None and len(binned.fractions) == 10
    assert binned.psi(list(np.linspace(0, 1, 500))) == pytest.approx(0.0, abs=0.01)
    assert (binned.psi([0.99] * 200) or 0) > 1.0


def test_domain_auc_separates_shifted_data_only() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(300, 32)).astype(np.float32)
    same = rng.normal(size=(100, 32)).astype(np.float32)
    shifted = same + 0.8
    assert domain_auc(reference, same) == pytest.approx(0.5, abs=0.12)
    assert (domain_auc(reference, shifted) or 0) > 0.95
    assert domain_auc(reference, same[:10]) is None  # too few to judge


def _observe(monitor: Monitor, count: int, latency_ms: float, status: int = 200) -> None:
    for _ in range(count):
        labels = (("a",),) if status == 200 else ()
        confidences = (0.9,) if status == 200 else ()
        monitor.observe(Observation("m", 1, time.time(), latency_ms, status, ("some text",), labels, confidences))


def test_rules_fire_once_per_cooldown_and_are_stored(home: Path) -> None:
    from types import SimpleNamespace

    rules = parse_rules(
        """
rules:
  - {name: slow, metric: latency_p50_ms, op: ">", threshold: 100, window: 5 requests, cooldown: 3600}
  - {name: errors, metric: error_rate, op: ">", threshold: 0.5, window: 4 requests, cooldown: 0}
  - {name: other, metric: error_rate, op: ">", threshold: 0, window: 1 request, model: someone-else}
"""
    )
    version = SimpleNamespace(version=1, ref="m:1", base_model="minilm-l6", dataset_hash="0" * 64, task="x")
    monitor = Monitor(
        rules,
        settings=MonitorSettings(embeddings=False, stats_window=10),
        version_of=lambda name, number: version,  # type: ignore[arg-type,return-value]
    )
    try:
        _observe(monitor, 4, latency_ms=500)
        assert monitor.flush()
        assert list_alerts("m") == []  # the 5-request window is not full yet
        _observe(monitor, 20, latency_ms=500)
        assert monitor.flush()
        fired = list_alerts("m")
        assert [a.rule for a in fired] == ["slow"]  # once, however often it is judged within the cooldown
        assert fired[0].value == 500 and fired[0].window == "5 requests" and fired[0].delivery == "none"
        _observe(monitor, 4, latency_ms=1, status=503)
        assert monitor.flush()
        fired_rules = [a.rule for a in list_alerts("m")]
        assert fired_rules.count("slow") == 1 and "errors" in fired_rules and "other" not in fired_rules
        status = monitor.status("m")
        assert status is not None and status["request_index"] == 28
        shown = status["windows"][0]
        assert shown["window"] == "10 requests" and shown["errors"] == 4 and shown["statuses"] == {"200": 6, "503": 4}
        assert shown["label_psi"] is None  # no reference (no dataset in this home): drift is off, the rest works
    finally:
        monitor.close()


def test_replicas_share_the_cooldown(home: Path) -> None:
    """Two monitors on one store (two replicas) seeing the same slow traffic send one alert per cooldown."""
    from types import SimpleNamespace

    rules = parse_rules(
        "rules:\n  - {name: slow, metric: latency_p50_ms, op: '>', threshold: 100, window: 5 requests, cooldown: 3600}"
    )
    version = SimpleNamespace(version=1, ref="m:1", base_model="minilm-l6", dataset_hash="0" * 64, task="x")
    replicas = [
        Monitor(
            rules,
            settings=MonitorSettings(embeddings=False, stats_window=10),
            version_of=lambda name, number: version,  # type: ignore[arg-type,return-value]
        )
        for _ in range(2)
    ]
    try:
        for monitor in replicas:
            _observe(monitor, 10, latency_ms=500)
            assert monitor.flush()
        assert [a.rule for a in list_alerts("m")] == ["slow"]
    finally:
        for monitor in replicas:
            monitor.close()


def test_the_cooldown_gate_reopens_when_it_has_passed(home: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from modelyard.monitor.alerts import record_alert

    [rule] = parse_rules(
        "rules:\n  - {name: slow, metric: latency_p50_ms, op: '>', threshold: 1, window: 5 requests, cooldown: 60}"
    ).rules
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def fire(model: str, after: float) -> bool:
        alert = record_alert(model, 1, rule, 5.0, {}, webhook=False, now=start + timedelta(seconds=after))
        return alert is not None

    assert fire("m", 0)
    assert not fire("m", 59.9)  # within the cooldown: held back
    assert fire("other", 1)  # the gate is per model
    assert fire("m", 60)  # the cooldown has passed
    assert [a.model_name for a in list_alerts()] == ["m", "other", "m"]
