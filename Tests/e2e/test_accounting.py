"""Accounting end to end (issue H): price versions set with the real `airlock` CLI through the
daemon, each ledger row's `cost_micros` recomputed here from its own tokens; chargeback reports
from the CLI (JSON, CSV) and `/admin/v1/usage/report` compared with a direct SQL sum of the
ledger; per-org monthly guardrails (warning header, 403 `quota_exceeded` through the official
`openai` SDK, audit rows, clearing). One appliance, one airlock-sim engine serving two models in
the zone `dc-east`."""

import csv
import datetime
import http.client
import io
import json
import os
import sqlite3
import subprocess
import time
import unittest
import urllib.parse
import warnings
from decimal import Decimal
from fractions import Fraction

import openai

from appliance import BIN, Appliance, Engine

ZONE = "dc-east"
MODELS = ("sim-acct", "sim-acct-2")
# Prices with six decimals and a multiplier and discount that leave fractions of a micro-unit,
# so the rounding is exercised, not just the arithmetic.
PRICES = {"sim-acct": ("12.345678", "37.000001"), "sim-acct-2": ("0.60", "0.80")}
ZONE_MULTIPLIER = "1.1"
DISCOUNT_PERCENT = "15"
PRICE_TOML = f"""currency = "EUR"
[models."sim-acct"]
input = "{PRICES['sim-acct'][0]}"
output = "{PRICES['sim-acct'][1]}"
[models."sim-acct-2"]
input = "{PRICES['sim-acct-2'][0]}"
output = "{PRICES['sim-acct-2'][1]}"
[zones]
{ZONE} = "{ZONE_MULTIPLIER}"
[orgs."acme"]
discount_percent = "{DISCOUNT_PERCENT}"
"""


def now_ms():
    return int(time.time() * 1000)


def iso(ms):
    """ISO 8601 in UTC with milliseconds: exactly the instant `ms`."""
    moment = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).replace(microsecond=(ms % 1000) * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def micros(text):
    """A decimal as the price table reads it, in millionths (exact)."""
    return int(Decimal(text) * 1_000_000)


def round_half_up(value):
    return (value + Fraction(1, 2)).__floor__()


class AccountingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.t0 = now_ms() - 1000
        cls.engine = Engine(*[arg for model in MODELS for arg in ("--model", model)], "--tokens-per-second", "0")
        cls.app = Appliance([(f"sim-{i}", model, cls.engine.url) for i, model in enumerate(MODELS)],
                            extra_config=f'[gateway]\nzone = "{ZONE}"')
        app = cls.app
        for model in MODELS:
            app.cli("model", "add", model)
        cls.orgs, cls.keys = {}, {}
        for org, env in (("acme", "prod"), ("beta", "dev")):
            cls.orgs[org] = app.cli("org", "create", org)["id"]
            app.cli("env", "create", org, env)
            cls.keys[org] = app.cli("key", "create", org, env, "--name", "main")
        app.start()
        # Served before any price version exists: these rows cost nothing, then and forever.
        cls.unpriced = [cls.chat("acme", "before the prices")._request_id,
                        cls.stream("beta", "before the prices too")]
        for request_id in cls.unpriced:
            assert app.ledger_row(request_id), request_id
        # The first price version, in force two seconds from now (after every row above).
        cls.price_file = os.path.join(app.dir, "prices.toml")
        with open(cls.price_file, "w") as f:
            f.write(PRICE_TOML)
        cls.requested_effective = now_ms() + 2000
        cls.version = app.cli("price", "set", cls.price_file, "--effective", iso(cls.requested_effective))
        cls.effective = cls.version["effective_from"]

    @classmethod
    def tearDownClass(cls):
        cls.app.cleanup()
        cls.engine.stop()

    # --- helpers -------------------------------------------------------------------------------

    @classmethod
    def client(cls, org):
        return openai.OpenAI(base_url=cls.app.base + "/v1", api_key=cls.keys[org]["key"],
                             http_client=openai.DefaultHttpxClient(verify=cls.app.ca_file), max_retries=0)

    @classmethod
    def chat(cls, org, text, model="sim-acct", max_tokens=7):
        return cls.client(org).chat.completions.create(model=model, messages=[{"role": "user", "content": text}],
                                                        max_tokens=max_tokens)

    @classmethod
    def stream(cls, org, text, model="sim-acct", max_tokens=5, include_usage=True):
        """A streamed chat read to the end; its request id."""
        stream = cls.client(org).chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], max_tokens=max_tokens, stream=True,
            **({"stream_options": {"include_usage": True}} if include_usage else {}))
        chunks = list(stream)
        assert chunks, "an empty stream"
        return stream.response.headers["x-request-id"]

    def airlock(self, *args):
        """The CLI as an operator runs it: exit status, stdout and stderr as they are."""
        return subprocess.run([os.path.join(BIN, "airlock"), *args], env=self.app.env, capture_output=True, text=True,
                              timeout=60)

    def assert_one_line_error(self, result, *fragments):
        self.assertNotEqual(result.returncode, 0, result.stdout)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("Error: "), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        return lines[0]

    def wait_for_prices(self):
        remaining = (self.effective + 50 - now_ms()) / 1000
        if remaining > 0:
            time.sleep(remaining)

    def row(self, request_id):
        rows = self.app.ledger_row(request_id)
        self.assertEqual(len(rows), 1, f"ledger rows for {request_id}")
        return rows[0]

    def expected_cost(self, row):
        """round_half_up((prompt × input + completion × output) ÷ 10⁶ × zone × (1 − discount)) in
        micro-units, from the prices written in PRICE_TOML: exact fractions, no floats."""
        price_in, price_out = (micros(p) for p in PRICES[row["model"]])
        zone = Fraction(micros(ZONE_MULTIPLIER), 1_000_000) if row["zone"] == ZONE else Fraction(1)
        discount = Fraction(int(DISCOUNT_PERCENT), 100) if row["org_id"] == self.orgs["acme"] else Fraction(0)
        tokens = row["prompt_tokens"] * price_in + row["completion_tokens"] * price_out
        return round_half_up(Fraction(tokens, 1_000_000) * zone * (1 - discount))

    def database(self):
        db = sqlite3.connect(f"file:{os.path.join(self.app.data, 'airlock.sqlite')}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        return db

    def ledger_head(self):
        db = self.database()
        try:
            row = db.execute("SELECT seq, hash FROM usage_ledger ORDER BY seq DESC LIMIT 1").fetchone()
            return row["seq"], row["hash"]
        finally:
            db.close()

    def admin_get(self, path):
        with open(os.path.join(self.app.data, "secrets", "admin-api.token")) as f:
            token = f.read().strip()
        connection = http.client.HTTPSConnection("127.0.0.1", self.app.port, context=self.app.tls_context(), timeout=10)
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status, response.getheader("content-type"), body

    def price_versions(self):
        return self.app.cli("price", "list")

    # --- 1. prices -----------------------------------------------------------------------------

    def test_rows_are_priced_at_append_by_the_version_in_force(self):
        self.wait_for_prices()
        served = [self.chat("acme", "four words for the price")._request_id,
                  self.stream("acme", "stream me a priced answer", max_tokens=6),
                  self.stream("acme", "the other model, usage hidden", model="sim-acct-2", include_usage=False),
                  self.chat("beta", "no discount for beta", max_tokens=9)._request_id,
                  self.chat("beta", "and the cheap model", model="sim-acct-2", max_tokens=3)._request_id]
        for request_id in served:
            row = self.row(request_id)
            self.assertGreaterEqual(row["ts"], self.effective)
            self.assertEqual(row["zone"], ZONE)
            self.assertGreater(row["cost_micros"], 0, row)
            self.assertEqual(row["cost_micros"], self.expected_cost(row), row)
        # Both streamed and non-streamed rows, both orgs, both models: the formula is the same.
        rows = [self.row(request_id) for request_id in served]
        self.assertEqual({r["streamed"] for r in rows}, {0, 1})
        self.assertEqual({r["model"] for r in rows}, set(MODELS))
        # Rows written before the version took effect keep the price they were written with: none.
        for request_id in self.unpriced:
            row = self.row(request_id)
            self.assertLess(row["ts"], self.effective)
            self.assertEqual(row["cost_micros"], 0)

        listed = [v for v in self.price_versions() if v["version"] == self.version["version"]]
        self.assertEqual(len(listed), 1)
        version = listed[0]
        self.assertEqual(version["effective_from"], self.effective)
        self.assertEqual(self.effective, self.requested_effective, "stored as written, to the millisecond")
        self.assertEqual(version["table"]["currency"], "EUR")
        self.assertEqual(version["table"]["models"], {model: {"input": Decimal(i).normalize().to_eng_string(),
                                                              "output": Decimal(o).normalize().to_eng_string()}
                                                      for model, (i, o) in PRICES.items()})
        self.assertEqual(version["table"]["zones"], {ZONE: ZONE_MULTIPLIER})
        self.assertEqual(version["table"]["orgs"], {"acme": {"discount_percent": DISCOUNT_PERCENT}})
        shown = self.app.cli("price", "show", str(self.version["version"]))
        self.assertEqual(shown, version)
        audited = [a for a in self.app.audit("price.version_add") if a["target_id"] == str(self.version["version"])]
        self.assertEqual(len(audited), 1)
        self.assertTrue(audited[0]["actor"].startswith("cli:"), audited[0])

    # --- 2. bad price input --------------------------------------------------------------------

    def test_bad_price_input_is_refused_in_one_line_and_adds_no_version(self):
        def write(name, body):
            path = os.path.join(self.app.dir, name)
            with open(path, "w") as f:
                f.write(body)
            return path

        later = iso(now_ms() + 3_600_000)
        cases = [
            ("a negative price", write("negative.toml", PRICE_TOML.replace('input = "0.60"', 'input = "-0.60"')),
             later, ["sim-acct-2", "negative"]),
            ("a negative number", write("negative-number.toml", PRICE_TOML.replace('input = "0.60"', "input = -1")),
             later, ["negative"]),
            ("an unknown model", write("unknown-model.toml", PRICE_TOML + '[models."gpt-9"]\ninput = "1"\noutput = "2"\n'),
             later, ["gpt-9", "not in the catalog"]),
            ("an unknown field", write("unknown-field.toml", 'colour = "red"\n' + PRICE_TOML), later, ["unknown field 'colour'"]),
            ("a misspelt org field", write("misspelt.toml", PRICE_TOML.replace("discount_percent", "discount_percnt")),
             later, ["unknown field 'discount_percnt'"]),
            ("an unknown org", write("unknown-org.toml", PRICE_TOML.replace('[orgs."acme"]', '[orgs."nobody"]')), later, ["nobody"]),
            ("another currency", write("currency.toml", PRICE_TOML.replace('"EUR"', '"USD"')), later, ["currency", "EUR"]),
            ("effective in the past", self.price_file, iso(now_ms() - 5000), ["future"]),
            ("an unreadable date", self.price_file, "next tuesday", ["--effective", "ISO 8601"]),
        ]
        before, audited = self.price_versions(), len(self.app.audit("price.version_add"))
        for name, path, effective, fragments in cases:
            with self.subTest(name):
                self.assert_one_line_error(self.airlock("price", "set", path, "--effective", effective), *fragments)
        self.assertEqual(self.price_versions(), before)
        self.assertEqual(len(self.app.audit("price.version_add")), audited)

        # Overlaps: a version scheduled an hour from now, then one at the same instant and one
        # before it (both still in the future) are refused.
        scheduled_at = iso(now_ms() + 3_600_000)
        scheduled = self.app.cli("price", "set", self.price_file, "--effective", scheduled_at)
        before = self.price_versions()
        self.assertEqual(before[-1]["version"], scheduled["version"])
        for name, instant in (("the same start", scheduled_at), ("an earlier start", iso(scheduled["effective_from"] - 1_800_000))):
            with self.subTest(name):
                self.assert_one_line_error(self.airlock("price", "set", self.price_file, "--effective", instant),
                                           "overlaps", f"version {scheduled['version']}")
        self.assertEqual(self.price_versions(), before)
        # The scheduled version changed nothing yet: served rows are still priced by the first.
        self.wait_for_prices()
        row = self.row(self.chat("acme", "still the first version")._request_id)
        self.assertEqual(row["cost_micros"], self.expected_cost(row))

    # --- 3. reports ----------------------------------------------------------------------------

    def test_reports_equal_a_direct_sum_of_the_ledger(self):
        self.wait_for_prices()
        for request_id in [self.chat("acme", "report me")._request_id, self.chat("beta", "report me too")._request_id,
                           self.stream("beta", "and a stream", model="sim-acct-2"),
                           self.chat("acme", "the other model", model="sim-acct-2")._request_id]:
            self.row(request_id)  # written before the report is read
        time.sleep(0.01)
        start, end = self.t0, now_ms()
        head = self.ledger_head()

        result = self.airlock("--json", "usage", "report", "--from", iso(start), "--to", iso(end), "--format", "json",
                              "--by", "org,model")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual(self.ledger_head(), head, "traffic during the report")
        self.assertEqual((report["from"], report["to"]), (start, end))

        db = self.database()
        try:
            grouped = {(r["org_id"], r["model"]): (r["n"], r["prompt"], r["completion"], r["total"], r["cost"])
                       for r in db.execute("""
                           SELECT org_id, model, count(*) AS n, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion,
                                  sum(total_tokens) AS total, sum(cost_micros) AS cost
                           FROM usage_ledger WHERE ts >= ? AND ts < ? GROUP BY org_id, model""", (start, end))}
            span = db.execute("SELECT count(*), min(seq), max(seq), sum(total_tokens), sum(cost_micros) FROM usage_ledger "
                              "WHERE ts >= ? AND ts < ?", (start, end)).fetchone()
        finally:
            db.close()
        self.assertEqual({(line["org_id"], line["model"]): (line["requests"], line["prompt_tokens"], line["completion_tokens"],
                                                             line["total_tokens"], line["cost_micros"])
                          for line in report["lines"]}, grouped)
        self.assertLessEqual({(self.orgs[org], model) for org in ("acme", "beta") for model in MODELS}, set(grouped),
                             "both orgs on both models")
        self.assertLessEqual({"acme", "beta"}, {line["org_name"] for line in report["lines"]})
        self.assertGreater(report["totals"]["cost_micros"], 0)
        self.assertEqual((report["rows"], report["first_seq"], report["last_seq"], report["totals"]["total_tokens"],
                          report["totals"]["cost_micros"]), tuple(span))
        self.assertEqual(report["totals"]["requests"], span[0])
        self.assertEqual((report["head_seq"], report["head_hash"]), head)
        self.assertEqual((report["group_by"], report["currency"]), (["org", "model"], "EUR"))
        self.assertEqual(report["reservations"], [])

        # CSV: the same lines, amounts in currency units with six decimals.
        result = self.airlock("usage", "report", "--from", iso(start), "--to", iso(end), "--format", "csv", "--by", "org,model")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        self.assertEqual({(r["org_id"], r["model"]): (int(r["requests"]), int(r["prompt_tokens"]), int(r["completion_tokens"]),
                                                      int(r["total_tokens"]), micros(r["cost"])) for r in rows}, grouped)
        self.assertEqual(sum(int(r["total_tokens"]) for r in rows), report["totals"]["total_tokens"])
        self.assertEqual(sum(micros(r["cost"]) for r in rows), report["totals"]["cost_micros"])
        self.assertEqual({r["org"] for r in rows}, {line["org_name"] for line in report["lines"]})

        # The admin API: the same report for the same period.
        query = urllib.parse.urlencode({"from": iso(start), "to": iso(end), "group_by": "org,model", "format": "json"})
        status, content_type, body = self.admin_get("/admin/v1/usage/report?" + query)
        self.assertEqual(status, 200, body)
        self.assertTrue(content_type.startswith("application/json"), content_type)
        self.assertEqual(json.loads(body), report)
        status, content_type, body = self.admin_get("/admin/v1/usage/report?" + query.replace("format=json", "format=csv"))
        self.assertEqual(status, 200, body)
        self.assertTrue(content_type.startswith("text/csv"), content_type)
        self.assertEqual(list(csv.DictReader(io.StringIO(body.decode()))), rows)
        # One org only.
        status, _, body = self.admin_get("/admin/v1/usage/report?" + query + "&org=beta")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["lines"], [line for line in report["lines"] if line["org_name"] == "beta"])

        # A reversed period and one ending in the future: one-line errors, and 400 from the API.
        late, future = iso(end), iso(now_ms() + 60_000)
        self.assert_one_line_error(self.airlock("usage", "report", "--from", late, "--to", iso(start)), "reversed")
        self.assert_one_line_error(self.airlock("usage", "report", "--from", iso(start), "--to", future), "future")
        for name, period in (("reversed", {"from": late, "to": iso(start)}), ("future", {"from": iso(start), "to": future})):
            with self.subTest(name):
                status, _, body = self.admin_get("/admin/v1/usage/report?" + urllib.parse.urlencode(period))
                self.assertEqual(status, 400, body)
                self.assertIn(name, json.loads(body)["error"]["message"])

    # --- 4. guardrails -------------------------------------------------------------------------

    def test_a_token_guardrail_warns_then_refuses_only_its_org(self):
        self.wait_for_prices()
        app = self.app
        org = app.cli("org", "create", "frugal")["id"]
        app.cli("env", "create", "frugal", "lab")
        self.keys["frugal"] = app.cli("key", "create", "frugal", "lab", "--name", "main")
        self.orgs["frugal"] = org
        text, max_tokens = "how much is left", 8
        # What one such request uses, measured on another org.
        one = self.row(self.chat("beta", text, max_tokens=max_tokens)._request_id)["total_tokens"]
        cap = -(-one * 11 // 10)  # one request × 1.1, rounded up: the first request crosses 80 %
        app.cli("guardrail", "set", "frugal", "--monthly-tokens", str(cap), "--warn-only")

        def raw(org_name="frugal"):
            return self.client(org_name).chat.completions.with_raw_response.create(
                model="sim-acct", messages=[{"role": "user", "content": text}], max_tokens=max_tokens)

        first = raw()
        self.assertNotIn("x-airlock-budget-warning", first.headers)
        first_row = self.row(first.headers["x-request-id"])
        self.assertEqual(first_row["total_tokens"], one)
        self.assertEqual(first_row["cost_micros"], self.expected_cost(first_row))
        tries = 0
        while True:
            tries += 1
            time.sleep(1.5)
            response = raw()
            self.row(response.headers["x-request-id"])
            if "x-airlock-budget-warning" in response.headers:
                break
            self.assertLess(tries, 3, "no x-airlock-budget-warning within three requests")
        self.assertIn("% of its monthly cap", response.headers["x-airlock-budget-warning"])
        # Past 100 % with --warn-only: still served, still warned.
        time.sleep(1.5)
        response = raw()
        self.assertIn("x-airlock-budget-warning", response.headers)
        self.row(response.headers["x-request-id"])
        [budget] = [b for b in app.cli("guardrail", "list") if b["guardrail"]["org_id"] == org]
        self.assertEqual((budget["level"], budget["guardrail"]["on_exceed"]), ("exceeded", "warn"))

        # Refuse past the cap: within a refresh the SDK gets 403 quota_exceeded.
        app.cli("guardrail", "set", "frugal", "--monthly-tokens", str(cap))
        deadline, refused = time.time() + 4, None
        while refused is None:
            try:
                self.row(self.chat("frugal", text, max_tokens=max_tokens)._request_id)
            except openai.PermissionDeniedError as error:
                refused = error
            else:
                self.assertLess(time.time(), deadline, "still served 4 s after the guardrail was set to refuse")
                time.sleep(0.3)
        self.assertEqual(refused.status_code, 403)
        self.assertEqual(refused.code, "quota_exceeded")
        self.assertEqual(refused.body["code"], "quota_exceeded")
        self.assertIn("monthly cap", refused.body["message"])
        rows_before = [r["seq"] for r in app.ledger() if r["org_id"] == org]
        # The org's other requests are refused too: streamed, the other model.
        with self.assertRaises(openai.PermissionDeniedError) as caught:
            self.stream("frugal", "a stream", model="sim-acct-2")
        self.assertEqual(caught.exception.code, "quota_exceeded")
        with self.assertRaises(openai.PermissionDeniedError) as caught:
            self.chat("frugal", "once more")
        self.assertEqual(caught.exception.code, "quota_exceeded")
        # Another org is served, unwarned.
        other = raw("beta")
        self.assertNotIn("x-airlock-budget-warning", other.headers)
        self.row(other.headers["x-request-id"])
        time.sleep(0.3)
        self.assertEqual([r["seq"] for r in app.ledger() if r["org_id"] == org], rows_before, "a refused request was billed")
        [budget] = [b for b in app.cli("guardrail", "list") if b["guardrail"]["org_id"] == org]
        self.assertEqual((budget["level"], budget["guardrail"]["on_exceed"], budget["guardrail"]["monthly_tokens"]),
                         ("exceeded", "refuse", cap))
        self.assertEqual(budget["tokens"], sum(r["total_tokens"] for r in app.ledger() if r["org_id"] == org))
        self.assertGreaterEqual(budget["percent_used"], 100)

        # Cleared: served again within about two seconds.
        result = self.airlock("guardrail", "clear", "frugal")
        self.assertEqual(result.returncode, 0, result.stderr)
        cleared, served = time.time(), None
        while served is None:
            try:
                served = raw()
            except openai.PermissionDeniedError:
                self.assertLess(time.time() - cleared, 2.5, "still refused 2.5 s after the guardrail was cleared")
                time.sleep(0.2)
        self.assertNotIn("x-airlock-budget-warning", served.headers)
        self.row(served.headers["x-request-id"])
        self.assertNotIn(org, [b["guardrail"]["org_id"] for b in app.cli("guardrail", "list")])

        # Audited: each crossing once per org and month (several refreshes have run since), and
        # every change.
        def audited(action):
            return [a for a in app.audit(action) if a["target_id"].split("@")[0] == org]
        exceeded = audited("guardrail.exceeded")
        self.assertEqual(len(exceeded), 1, exceeded)
        self.assertEqual(exceeded[0]["actor"], "airlockd")
        self.assertRegex(exceeded[0]["target_id"], rf"^{org}@\d{{4}}-\d{{2}}$")
        # The warning is audited when a refresh saw the org between 80 and 100 %: certainly when
        # the first request after the one that crossed 80 % carried the header.
        self.assertLessEqual(len(audited("guardrail.warning")), 1)
        if tries == 1:
            self.assertEqual(len(audited("guardrail.warning")), 1)
        self.assertEqual(len(audited("guardrail.set")), 2)
        self.assertEqual(len(audited("guardrail.clear")), 1)
        self.assertFalse([a for a in app.audit("guardrail.exceeded") if a["target_id"].split("@")[0] != org],
                         "another org crossed its cap")

    def test_instants_keep_their_milliseconds(self):
        """An instant written with milliseconds is stored as written: `UnixMillis(Date)` rounds to
        the nearest millisecond (`…00.002Z` is 1.9998… ms in floating point)."""
        result = self.airlock("--json", "usage", "report", "--from", "2026-01-01T00:00:00.002Z",
                              "--to", "2026-01-01T00:00:01.015Z", "--by", "org")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual((report["from"], report["to"]), (1767225600002, 1767225601015))


if __name__ == "__main__":
    unittest.main()
