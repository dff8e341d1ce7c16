"""The licence on the request path, end to end: airlock-vendor and airlock as separate processes
carrying files, a running airlockd that picks the activation up without a restart, the warning
header in evaluation mode and in grace, and 403 `license_expired` once the grace is over — while
the admin side and the ledger keep working."""

import concurrent.futures
import datetime
import json
import os
import ssl
import urllib.error
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


class LicenseThroughTheAdminAPITest(UnlicensedAppliance):
    """The same offline cycle with the files going through `/admin/v1/license/*` (bearer) and the
    dashboard's upload form (session cookie + CSRF, multipart), not the CLI."""

    def post(self, path, body, headers):
        request = urllib.request.Request(self.app.base + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=self.app.ca_file), timeout=20) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def issue(self, license_id):
        lic = os.path.join(self.app.dir, f"{license_id}.lic")
        self.app.vendor("issue", "--signing-key", self.app.vendor_key, "--license-id", license_id, "--customer", "Airlock e2e",
                        "--expires", "2099-12-31", "--grace-days", "30", "--max-gpus", "8", "--max-nodes", "4", "--max-orgs", "10",
                        "--out", lic)
        return lic

    def grant(self, lic, request_bytes, name):
        """The vendor's side: the appliance's request file in, the activation file out."""
        req, act = os.path.join(self.app.dir, f"{name}-request.json"), os.path.join(self.app.dir, f"{name}-activation.json")
        with open(req, "wb") as f:
            f.write(request_bytes)
        self.app.vendor("activate", "--request", req, "--license", lic, "--signing-key", self.app.vendor_key, "--out", act)
        with open(act, "rb") as f:
            return f.read()

    def test_activation_through_the_api_then_renewal_through_the_dashboard(self):
        with open(os.path.join(self.app.data, "secrets", "admin-api.token")) as f:
            bearer = {"Authorization": "Bearer " + f.read().strip()}
        lic = self.issue("api-1")
        with open(lic, "rb") as f:
            status, headers, request_file = self.post("/admin/v1/license/request", f.read(), bearer)
        self.assertEqual(status, 200, request_file)
        self.assertIn("activation-request.json", headers.get("Content-Disposition", ""))
        # A file that is no licence is refused with a reason, and nothing changes.
        status, _, body = self.post("/admin/v1/license/activation", b'{"kind":"nothing"}', bearer)
        self.assertEqual(status, 400, body)
        self.assertEqual(self.admin_license()["state"], "evaluation")
        status, _, body = self.post("/admin/v1/license/activation", self.grant(lic, request_file, "api-1"), bearer)
        self.assertEqual(status, 200, body)
        self.assertEqual((json.loads(body)["state"], json.loads(body)["license_id"]), ("active", "api-1"))
        self.warning_eventually(lambda w: w is None)  # the daemon judged it at once

        # Renewal by a signed-in admin on the dashboard's licence page: multipart uploads.
        password = "a long dashboard password"
        subprocess.run([os.path.join(BIN, "airlock"), "user", "create", "lic-admin", "--role", "admin"], input=password + "\n",
                       env=self.app.env, check=True, capture_output=True, text=True)
        status, headers, body = self.post("/admin/v1/sessions", json.dumps({"name": "lic-admin", "password": password}).encode(),
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        cookie = headers["Set-Cookie"].split(";")[0]
        csrf = json.loads(body)["csrf_token"]

        def upload(path, data, token=csrf):
            boundary = "airlock-e2e-boundary"
            parts = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
                     f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.json"\r\n'
                     f'Content-Type: application/octet-stream\r\n\r\n').encode() + data + f"\r\n--{boundary}--\r\n".encode()
            return self.post(path, parts, {"Cookie": cookie, "Content-Type": f"multipart/form-data; boundary={boundary}"})

        renewal = self.issue("api-2")
        with open(renewal, "rb") as f:
            renewal_bytes = f.read()
        status, _, _ = upload("/license/request", renewal_bytes, token="not-the-token")
        self.assertEqual(status, 403, "an upload without the session's CSRF token must be refused")
        status, headers, request_file = upload("/license/request", renewal_bytes)
        self.assertEqual(status, 200, request_file[:500])
        self.assertIn("activation-request.json", headers.get("Content-Disposition", ""))
        status, _, page = upload("/license/activate", self.grant(renewal, request_file, "api-2"))
        self.assertEqual(status, 200, page[:500])  # redirected back to the licence page, which shows the new one
        self.assertIn(b"api-2", page)
        self.assertEqual(self.admin_license()["license_id"], "api-2")
        audit = self.app.cli("audit", "list", "--limit", "50")
        actions = [(row.get("action"), row.get("actor")) for row in (audit if isinstance(audit, list) else audit.get("entries", []))]
        self.assertIn(("license.activate", "local-admin"), actions)
        self.assertIn(("license.activate", "user:lic-admin"), actions)


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
