"""The licence on the request path, end to end: airlock-vendor and airlock as separate processes
carrying files, a running airlockd that picks the activation up without a restart, the warning
header in evaluation mode and in grace, and 403 `license_expired` once the grace is over — while
the admin side and the ledger keep working."""

import concurrent.futures
import datetime
import json
import os
import ssl
import urllib.request
import subprocess
import time
import unittest
import warnings

import openai

from appliance import BIN, Appliance, Engine


class UnlicensedAppliance(unittest.TestCase):
    """An appliance in evaluation mode whose config already trusts a vendor key of the test's
    own, so a licence can be activated while the daemon runs. No tests of its own."""
    ENGINES = 1

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.engines = [Engine("--model", "sim-small", "--tokens-per-second", "40") for _ in range(self.ENGINES)]
        self.engine = self.engines[0]
        self.app = Appliance([(f"sim-{i}", "sim-small", engine.url) for i, engine in enumerate(self.engines)], licensed=False)
        self.app.trust_vendor_key()
        self.app.cli("org", "create", "acme")
        self.app.cli("env", "create", "acme", "prod")
        self.key = self.app.cli("key", "create", "acme", "prod")["key"]
        self.app.start()

    def tearDown(self):
        self.app.cleanup()
        for engine in self.engines:
            engine.stop()

    def install(self, expires, grace_days, max_nodes=4):
        """A small licence with no features, issued and activated while the daemon runs."""
        not_before = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=60)).strftime("%Y-%m-%d")
        return self.app.install_license(expires, grace_days=grace_days, license_id="bank-e2e", max_nodes=max_nodes, max_gpus=8,
                                        max_orgs=10, features=(), not_before=not_before)

    def chat(self):
        client = openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.key, max_retries=0,
                               http_client=openai.DefaultHttpxClient(verify=self.app.ca_file))
        return client.chat.completions.with_raw_response.create(
            model="sim-small", messages=[{"role": "user", "content": "hello"}], max_tokens=3)

    def admin_license(self):
        """`GET /admin/v1/license` with the appliance's local admin credential."""
        with open(os.path.join(self.app.data, "secrets", "admin-api.token")) as f:
            token = f.read().strip()
        request = urllib.request.Request(self.app.base + "/admin/v1/license", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=self.app.ca_file), timeout=10) as r:
            return json.load(r)

    def warning_eventually(self, predicate, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            warning = self.chat().headers.get("x-airlock-license-warning")
            if predicate(warning):
                return warning
            time.sleep(0.5)
        self.fail(f"licence warning never matched; last: {warning!r}")


class LicenseTest(UnlicensedAppliance):
    def test_evaluation_then_grace_is_served_with_a_warning(self):
        self.assertIn("evaluation mode", self.chat().headers["x-airlock-license-warning"])
        yesterday = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        status = self.install(yesterday, grace_days=30)
        self.assertEqual(status["state"], "grace")
        warning = self.warning_eventually(lambda w: w is not None and "grace" in w)
        self.assertIn("bank-e2e expired on", warning)
        # The admin API reports what the daemon judged, with the days of grace left.
        status = self.admin_license()
        self.assertEqual((status["state"], status["license_id"]), ("grace", "bank-e2e"))
        self.assertIn(status["days_left"], (28, 29))

    def test_past_its_grace_inference_is_refused_but_admin_and_ledger_work(self):
        soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(self.install(soon, grace_days=0)["state"], "active")
        self.warning_eventually(lambda w: w is None)  # picked up without a restart
        served = self.chat()
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                self.chat()
            except openai.PermissionDeniedError as refused:
                self.assertEqual(refused.code, "license_expired")
                self.assertNotIn(self.app.dir, str(refused))
                break
            time.sleep(0.5)
        else:
            self.fail("inference was not refused after the licence expired")
        self.assertEqual(self.app.cli("license", "status")["state"], "expired")
        self.assertEqual(len(self.app.ledger_row(served.headers["x-request-id"])), 1)
        verify = subprocess.run([os.path.join(BIN, "airlock"), "ledger", "verify"], env=self.app.env, capture_output=True, text=True)
        self.assertEqual(verify.returncode, 0, verify.stdout)
        self.assertIn("licence state", self.app.wait_for_log("state=expired"))


class LicensedPoolTest(UnlicensedAppliance):
    ENGINES = 3

    def spread(self, requests=12):
        """Concurrent slow requests, so that in-flight counting spreads them over every node the
        scheduler may use; what each engine received meanwhile."""
        before = [engine.requests_received() for engine in self.engines]
        client = openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.key, max_retries=0,
                               http_client=openai.DefaultHttpxClient(verify=self.app.ca_file))
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda i: client.chat.completions.create(
                model="sim-small", messages=[{"role": "user", "content": f"q{i}"}], max_tokens=10), range(requests)))
        return [engine.requests_received() - count for engine, count in zip(self.engines, before)]

    def test_nodes_beyond_the_licence_get_no_work_until_a_larger_licence_arrives(self):
        # Evaluation mode allows 2 nodes: the third registered is over the licence.
        self.app.wait_for_log("node=sim-2 ", "over the licence")
        received = self.spread()
        self.assertEqual(received[2], 0, received)
        self.assertEqual(sum(received), 12)
        since = self.app.log_offset()
        year_ahead = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=365)).strftime("%Y-%m-%d")
        self.install(year_ahead, grace_days=0, max_nodes=3)
        self.app.wait_for_log("node=sim-2 ", "within the licence again", since=since, timeout=15)
        self.assertGreater(self.spread()[2], 0)


if __name__ == "__main__":
    unittest.main()
