"""Drift alerts on a served Banking77 model (bar: no alert on 3,000 in-distribution requests, then a
drift alert within the first 200 Rotten Tomatoes requests).

Starts `modelyard serve` on 127.0.0.1 with MODELYARD_ALERT_RULES (configs/alerts.yaml by default: every
rule in it counts, drift or not) and a local webhook receiver that refuses each alert's first POST (so
the retry path runs). Sends Banking77 official test texts one per request (file order, which is
already mixed across intents), waits until the monitor has judged them all, then sends Rotten Tomatoes
snippets. ``false_alerts``: alerts whose request index is within the in-distribution phase;
``requests_to_alert``: drifted requests up to the request at which the first alert fired (the
monitor records that index on the alert; judged at least every 20 requests). Also records, per
metric, the largest value seen on in-distribution windows (polled from /monitoring every 20 requests)
and the values during drift — the numbers the thresholds in configs/alerts.yaml were set from.

Uses the banking77 model of --home when given (its production version, else its latest); otherwise
trains a short full fine-tune of configs/banking77.yaml (--epochs) in an isolated home.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _common import ROOT, isolated_home, write_result

DRIFT_METRICS = ("embedding_auc", "label_psi", "confidence_psi", "length_psi")
WATCHED = (*DRIFT_METRICS, "confidence_mean", "error_rate", "latency_p95_ms")


class Webhook:
    """Receives alerts; answers 503 to the first POST of each alert, 200 to the next."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.seen: set[int] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                alert_id = int(body["alert"]["id"])
                first = alert_id not in outer.seen
                outer.seen.add(alert_id)
                outer.posts.append({"id": alert_id, "status": 503 if first else 200, "at": time.time()})
                self.send_response(503 if first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def train_short(epochs: float, max_steps: int) -> str:
    from modelyard import registry, train
    from modelyard.config import load_recipe

    recipe = load_recipe(ROOT / "configs" / "banking77.yaml")
    training = recipe.training.model_copy(
        update={"epochs": epochs, "max_steps": max_steps, "early_stopping_patience": None}
    )
    result = train.run(recipe.model_copy(update={"training": training}))
    version = registry.get(recipe.name)
    registry.promote(version.ref, "production")
    print(f"trained {version.ref}: test accuracy {result.metrics.get('accuracy')}", file=sys.stderr, flush=True)
    return recipe.name


def read_texts(name: str, splits: tuple[str, ...]) -> list[str]:
    from modelyard.data import fetch

    fetched = fetch.fetch(name)
    texts: list[str] = []
    for split in splits:
        with fetched.splits[split].open(encoding="utf-8", newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle)]
    return texts


def wait_ready(client: Any, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError("the server never became ready; see the serve log in the home folder")


class Run:
    def __init__(self, client: Any, model: str, client_key: str, developer_key: str) -> None:
        self.client = client
        self.model = model
        self.client_headers = {"Authorization": f"Bearer {client_key}"}
        self.developer_headers = {"Authorization": f"Bearer {developer_key}"}
        self.latencies: list[float] = []
        self.errors = 0
        self.samples: list[dict[str, Any]] = []

    def predict(self, text: str) -> None:
        started = time.perf_counter()
        response = self.client.post(
            f"/v1/models/{self.model}/predict", json={"text": text}, headers=self.client_headers
        )
        self.latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            self.errors += 1

    def monitoring(self) -> dict[str, Any]:
        response = self.client.get(
            f"/v1/models/{self.model}/monitoring", params={"alerts": 100}, headers=self.developer_headers
        )
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    def sample(self, sent: int, phase: str) -> dict[str, Any]:
        status = self.monitoring()
        for window in status["windows"]:
            if window.get("complete"):
                self.samples.append(
                    {"sent": sent, "phase": phase, "judged": status["request_index"], "window": window["window"]}
                    | {metric: window.get(metric) for metric in WATCHED}
                )
        return status

    def wait_judged(self, count: int, seconds: float = 900) -> dict[str, Any]:
        deadline = time.time() + seconds
        while True:
            status = self.monitoring()
            if status["request_index"] >= count or time.time() > deadline:
                return status
            time.sleep(1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2) if ordered else float("nan")


def summarize(samples: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    """Per window and metric: mean and max of the values polled in one phase."""
    out: dict[str, Any] = {}
    for window in sorted({s["window"] for s in samples if s["phase"] == phase}):
        rows = [s for s in samples if s["phase"] == phase and s["window"] == window]
        for metric in WATCHED:
            values = [r[metric] for r in rows if r.get(metric) is not None]
            if values:
                out.setdefault(window, {})[metric] = {
                    "mean": round(sum(values) / len(values), 4),
                    "max": round(max(values), 4),
                    "min": round(min(values), 4),
                    "n": len(values),
                }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", help="MODELYARD_HOME with a trained banking77 model (else one is trained)")
    parser.add_argument("--model", default="banking77")
    parser.add_argument("--rules", default="configs/alerts.yaml")
    parser.add_argument("--in-distribution", type=int, default=3000)
    parser.add_argument("--drifted", type=int, default=400, help="Rotten Tomatoes requests to send")
    parser.add_argument("--epochs", type=float, default=2, help="of the short training run (without --home)")
    parser.add_argument("--max-steps", type=int, default=-1, help="of the short training run (-1: all epochs)")
    parser.add_argument("--port", type=int, default=8720)
    parser.add_argument("--poll-every", type=int, default=20)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    started = time.time()
    if args.home:
        os.environ["MODELYARD_HOME"] = args.home
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = args.model
    else:
        isolated_home("drift")
        model = train_short(args.epochs, args.max_steps)
    trained_at = time.time()

    import httpx

    from modelyard import access, registry
    from modelyard.monitor import list_alerts

    version = registry.get(model)
    earlier = max((alert.id for alert in list_alerts(model, 1)), default=0)  # alerts of earlier runs in --home
    in_distribution = read_texts("banking77", ("test",))[: args.in_distribution]
    drifted = read_texts("rotten-tomatoes", ("test", "validation", "train"))[: args.drifted]
    client_key = access.create("client", [version.project], "drift benchmark").key
    developer_key = access.create("developer", [version.project], "drift benchmark").key
    hook = Webhook()
    rules = (ROOT / args.rules).resolve()
    env = os.environ | {"MODELYARD_ALERT_RULES": str(rules), "MODELYARD_ALERT_WEBHOOK": hook.url}
    home = Path(os.environ["MODELYARD_HOME"])
    log = open(home / "drift-serve.log", "ab")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard", "serve", "--port", str(args.port), "--model", model],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=120) as client:
            wait_ready(client)
            run = Run(client, model, client_key, developer_key)
            phase_started = time.time()
            for sent, text in enumerate(in_distribution, start=1):
                run.predict(text)
                if sent % args.poll_every == 0:
                    run.sample(sent, "in_distribution")
            in_seconds = time.time() - phase_started
            in_latencies = list(run.latencies)
            judged = run.wait_judged(len(in_distribution))
            caught_up = time.time() - phase_started - in_seconds
            alerts_before = [a for a in judged["alerts"] if a["id"] > earlier]

            visible_after = None
            for sent, text in enumerate(drifted, start=1):
                run.predict(text)
                if sent % 10 == 0 or sent == len(drifted):
                    status = run.sample(len(in_distribution) + sent, "drifted")
                    fired = [a for a in status["alerts"] if a["id"] > earlier]
                    if visible_after is None and len(fired) > len(alerts_before):
                        visible_after = sent
            final = run.wait_judged(len(in_distribution) + len(drifted))
            time.sleep(3)  # let the webhook retries finish
            final = run.monitoring()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        hook.close()

    alerts = sorted((a for a in final["alerts"] if a["id"] > earlier), key=lambda a: a["id"])
    boundary = len(in_distribution)
    false_alerts = [a for a in alerts if (a.get("request_index") or 0) <= boundary]
    drift_alerts = [a for a in alerts if (a.get("request_index") or 0) > boundary]
    first_by_rule: dict[str, Any] = {}
    for alert in drift_alerts:
        first_by_rule.setdefault(
            alert["rule"],
            {
                "requests_to_alert": alert["request_index"] - boundary,
                "metric": alert["metric"],
                "value": alert["value"],
                "threshold": alert["threshold"],
                "window": alert["window"],
                "webhook": f"{alert['delivery']} after {alert['attempts']} attempt(s)",
            },
        )
    requests_to_alert = min((a["request_index"] - boundary for a in drift_alerts), default=None)
    write_result(
        "drift",
        {
            "false_alerts": len(false_alerts),
            "requests_to_alert": requests_to_alert,
            "requests_to_alert_visible_in_api": visible_after,
            "first_alert_by_rule": first_by_rule,
            "false_alert_details": false_alerts,
            "model": version.ref,
            "model_test_accuracy": version.metrics.get("accuracy"),
            "runtime": "modelyard serve (1 worker), one text per request, sequential",
            "in_distribution": {
                "requests": len(in_distribution),
                "source": "Banking77 official test, file order",
                "client_errors": run.errors,
                "seconds": round(in_seconds, 1),
                "p50_ms": percentile(in_latencies, 50),
                "p99_ms": percentile(in_latencies, 99),
                "monitor_caught_up_after_s": round(caught_up, 1),
            },
            "drifted": {"requests": len(drifted), "source": "Rotten Tomatoes snippets (test, then validation)"},
            "window_metrics_in_distribution": summarize(run.samples, "in_distribution"),
            "window_metrics_drifted": summarize(run.samples, "drifted"),
            "drift_trace": [s for s in run.samples if s["phase"] == "drifted" and s["window"] == "100 requests"],
            "reference": final.get("reference"),
            "webhook_posts": len(hook.posts),
            "webhook_refused_first": sum(1 for p in hook.posts if p["status"] == 503),
            "rules": final["rules"],
            "rules_file": args.rules,
            "train_seconds": round(trained_at - started, 1) if not args.home else None,
            "total_seconds": round(time.time() - started, 1),
            "bar": {"false_alerts": 0, "requests_to_alert_at_most": 200},
        },
    )


if __name__ == "__main__":
    main()
