"""Production monitoring: sliding windows per served model, drift against the training data, alert rules.

- ``rules``      the YAML alert rules (pydantic, validated with line and key path)
- ``windows``    requests as the monitor keeps them (no text) and the statistics of a window
- ``drift``      PSI and the embedding domain-classifier AUC; what a reference holds
- ``reference``  a version's reference sample: labels, confidence, lengths, base-encoder embeddings
- ``alerts``     alerts and the latest statistics in the store
- ``notify``     webhook delivery with bounded retries and backoff
- ``service``    ``Monitor``: the queue the predict route feeds and the thread that does the work
"""

from modelyard.monitor.alerts import Alert, list_alerts, snapshots
from modelyard.monitor.rules import (
    METRICS,
    RULES_ENV,
    WEBHOOK_ENV,
    AlertRule,
    AlertRules,
    Webhook,
    load_rules,
    parse_rules,
)
from modelyard.monitor.service import Monitor, MonitorSettings, Observation

__all__ = [
    "METRICS",
    "RULES_ENV",
    "WEBHOOK_ENV",
    "Alert",
    "AlertRule",
    "AlertRules",
    "Monitor",
    "MonitorSettings",
    "Observation",
    "Webhook",
    "list_alerts",
    "load_rules",
    "parse_rules",
    "snapshots",
]
