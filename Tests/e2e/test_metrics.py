"""`/metrics` and the JSON logs end to end (issue H): a real airlockd behind its scrape token,
driven by the official `openai` client; every scrape checked by `promtool check metrics`
(Debian's `prometheus` package), the alert rules by `promtool check rules`."""

import http.client
import json
import os
import re
import shutil
import subprocess
import unittest
import uuid
import warnings

import openai

from appliance import Appliance, Engine

ROOT = os.path.join(os.path.dirname(__file__), "../..")
IDENTIFIER = re.compile(r"^(alk_|key_|org_|env_|req_)")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def promtool(*args, stdin=None):
    tool = shutil.which("promtool")
    if tool is None:
        raise AssertionError("promtool is missing: ./scripts/bootstrap prometheus")
    return subprocess.run([tool, *args], input=stdin, capture_output=True, text=True)


def samples(text):
    """{(name, frozenset(labels)): value} for every sample line of an exposition."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(match.group(2) or ""))
        found[(match.group(1), labels)] = float(match.group(3))
    return found


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.engine = Engine("--model", "sim-small", "--tokens-per-second", "1000")
        # Sorts before sim-a, so placement tries it first (equal load): every request fails over.
        cls.flaky = Engine("--model", "sim-small", "--failure-rate", "1")
        cls.app = Appliance([("a-flaky", "sim-small", cls.flaky.url), ("sim-a", "sim-small", cls.engine.url)])
        app = cls.app
        app.env["LOG_FORMAT"] = "json"
        app.cli("org", "create", "acme")
        app.cli("env", "create", "acme", "prod")
        cls.keys = {name: app.cli("key", "create", "acme", "prod", "--name", name) for name in ("main", "slow", "spare")}
        for name in ("slow", "spare"):
            app.cli("limits", "set", "key", cls.keys[name]["id"], "--requests-per-minute", "1")
        app.start()
        with open(os.path.join(app.data, "secrets", "metrics.token")) as f:
            cls.token = f.read().strip()

    @classmethod
    def tearDownClass(cls):
        cls.app.cleanup()
        cls.engine.stop()
        cls.flaky.stop()

    def client(self, key="main"):
        return openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.keys[key]["key"] if key in self.keys else key,
                             http_client=openai.DefaultHttpxClient(verify=self.app.ca_file), max_retries=0)

    def get(self, path, headers=None):
        connection = http.client.HTTPSConnection("127.0.0.1", self.app.port, context=self.app.tls_context(), timeout=10)
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        return response.status, response.getheader("content-type"), body

    def scrape(self):
        status, content_type, body = self.get("/metrics", {"Authorization": "Bearer " + self.token})
        self.assertEqual(status, 200, body)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        checked = promtool("check", "metrics", stdin=body)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr + "\n" + body)
        return body

    def test_scrape_needs_the_token(self):
        for headers in ({}, {"Authorization": "Bearer wrong-" + self.token[6:]}, {"Authorization": self.token},
                        {"Authorization": "Bearer " + self.keys["main"]["key"]}):
            status, content_type, body = self.get("/metrics", headers)
            self.assertEqual(status, 401, headers)
            self.assertTrue(content_type.startswith("text/plain"))
            self.assertNotIn("airlock_", body)
        token_file = os.path.join(self.app.data, "secrets", "metrics.token")
        self.assertEqual(os.stat(token_file).st_mode & 0o777, 0o600)

    def test_counters_move_and_labels_stay_bounded(self):
        before = samples(self.scrape())
        served = [self.client().chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "hi"}],
                                                         max_tokens=5) for _ in range(2)]
        self.client("slow").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "1"}], max_tokens=5)
        with self.assertRaises(openai.RateLimitError):
            self.client("slow").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "2"}])
        bogus = [f"bogus-{uuid.uuid4().hex}" for _ in range(25)]
        for model in bogus:
            with self.assertRaises(openai.NotFoundError):
                self.client().chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
        for _ in range(5):
            with self.assertRaises(openai.AuthenticationError):
                self.client("alk_" + uuid.uuid4().hex).chat.completions.create(model="sim-small", messages=[])
        for completion in served:
            self.assertEqual(len(self.app.ledger_row(completion._request_id)), 1)
        text = self.scrape()
        after = samples(text)

        def moved(name, **labels):
            key = (name, frozenset(labels.items()))
            return after.get(key, 0) - before.get(key, 0)

        self.assertEqual(moved("airlock_requests_total", model="sim-small", outcome="served"), 3)
        self.assertEqual(moved("airlock_requests_total", model="other", outcome="refused"), 25 + 5)
        self.assertEqual(moved("airlock_requests_total", model="sim-small", outcome="refused"), 1)
        self.assertEqual(moved("airlock_admission_refusals_total", layer="key", reason="requests_per_minute"), 1)
        self.assertEqual(moved("airlock_tokens_total", model="sim-small", type="completion"), 15)
        self.assertGreaterEqual(moved("airlock_scheduler_decisions_total", model="sim-small", decision="placed"), 3)
        self.assertEqual(moved("airlock_failovers_total", model="sim-small", node="a-flaky"), 3)
        self.assertGreaterEqual(moved("airlock_ledger_append_duration_seconds_count"), 3)
        self.assertGreaterEqual(after[("airlock_ledger_committed_rows_total", frozenset())], 3)
        self.assertEqual(after[("airlock_node_state", frozenset({"node": "sim-a", "zone": "default", "state": "active"}.items()))], 1)
        self.assertEqual(after[("airlock_license_state", frozenset({("state", "active")}))], 1)
        self.assertGreater(after[("airlock_license_remaining_seconds", frozenset())], 30 * 86400)

        secrets = {key["key"] for key in self.keys.values()} | {key["id"] for key in self.keys.values()}
        secrets |= {completion._request_id for completion in served}
        for (name, labels) in after:
            for label, value in labels:
                self.assertIsNone(IDENTIFIER.match(value), f"{name} {label}={value}")
                self.assertNotIn(value, secrets)
                self.assertFalse(value.startswith("bogus-"), f"{name} {label}={value}: a client minted a label value")
        request_series = [labels for (name, labels) in after if name == "airlock_requests_total"]
        self.assertLessEqual(len(request_series), 2 * 5, "models served (1) + other, times five outcomes")
        for secret in secrets:
            self.assertNotIn(secret, text)

    def test_json_logs_carry_the_ledger_request_id_and_no_secret(self):
        completion = self.client().chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "log me"}],
                                                           max_tokens=2)
        row = self.app.ledger_row(completion._request_id)[0]
        line = self.app.wait_for_log('"request served"', completion._request_id)
        entry = json.loads(line)
        self.assertEqual(entry["request_id"], row["request_id"])
        self.assertEqual((entry["level"], entry["label"], entry["status"]), ("debug", "airlockd", "200"))
        self.assertRegex(entry["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        log = self.app.log_text()
        for text in log.splitlines():
            fields = json.loads(text)
            self.assertTrue({"ts", "level", "label", "message"} <= set(fields), text)
            self.assertTrue(all(isinstance(value, str) for value in fields.values()), text)
        for key in self.keys.values():
            self.assertNotIn(key["key"], log)
        self.assertNotIn(self.token, log)

    def test_alert_rules_and_dashboard_name_real_metrics(self):
        rules = os.path.join(ROOT, "appliance", "prometheus-alerts.yml")
        checked = promtool("check", "rules", rules)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        with open(os.path.join(ROOT, "appliance", "grafana-dashboard.json")) as f:
            dashboard = f.read()
        json.loads(dashboard)
        # Families recorded as things happen exist from their first event: one served, one refused.
        for _ in range(2):
            try:
                self.client("spare").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}])
            except openai.RateLimitError:
                pass
        with open(rules) as f:
            used = set(re.findall(r"airlock_[a-z_]+", dashboard + f.read()))
        # Families on the scrape, plus those that need events this appliance never has (GPU
        # reports come from agents, not static engines; a refused ledger append).
        exposed = set(re.findall(r"^# TYPE (\S+)", self.scrape(), re.M))
        exposed |= {"airlock_node_gpu_temperature_max_celsius", "airlock_node_gpu_utilisation_ratio", "airlock_node_gpu_memory_used_bytes",
                    "airlock_node_gpu_memory_total_bytes", "airlock_ledger_append_failures_total", "airlock_failovers_total",
                    "airlock_node_saturated_total"}
        histogram = {name + suffix for name in exposed for suffix in ("_bucket", "_sum", "_count")}
        self.assertEqual(used - exposed - histogram, set())


if __name__ == "__main__":
    unittest.main()
