"""The admin API (/admin/v1) of a real airlockd over HTTPS: schemathesis drives every operation in
docs/openapi.yaml with generated requests (as the local admin credential) and checks that none is
a server error and that every answer matches what the document promises; plain urllib checks the
browser path — a user made with the real CLI signs in, uses the session cookie, and a change
without the CSRF token is refused."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
import warnings

from appliance import BIN, Appliance, Engine

SPEC = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../docs/openapi.yaml"))
HAVE_SCHEMATHESIS = importlib.util.find_spec("schemathesis") is not None

# Bounded so that the run takes well under two minutes on two slow cores: the coverage phase
# (boundary and type-violating values for every parameter and body field) is a fixed set, the
# fuzzing and stateful phases draw at most this many cases per operation. One worker: several
# threads trip a CPython 3.11 ast.parse race inside hypothesis ("AST constructor recursion depth
# mismatch"), reported as a schemathesis error rather than an API failure.
MAX_EXAMPLES = 5
SEED = 20261123
# No 5xx; every status, content type, header and body as documented; and every operation but
# signing in refuses a request without credentials or with wrong ones (ignored_auth).
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "ignored_auth")

PASSWORD = "correct horse battery staple"


class AdminAPIAppliance(unittest.TestCase):
    """A running appliance with user alice (admin), made with the real CLI before the daemon
    starts; `seed` adds more."""

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        engines = self.engines()
        self.app = Appliance(engines)
        self.addCleanup(self.app.cleanup)
        self.create_user("alice", "admin")
        self.seed()
        self.app.start(probe="/readyz" if engines else "/healthz")
        with open(os.path.join(self.app.data, "secrets", "admin-api.token")) as f:
            self.token = f.read().strip()

    def engines(self):
        """[(name, model, url)] for `[[engines]]`; none unless a test needs one."""
        return []

    def seed(self):
        pass

    def create_user(self, name, role):
        """`airlock user create`, the password on standard input (not a terminal: one line)."""
        result = subprocess.run([os.path.join(BIN, "airlock"), "--json", "user", "create", name, "--role", role],
                                input=PASSWORD + "\n", env=self.app.env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def request(self, method, path, body=None, headers=None):
        """(status, headers, parsed JSON or None); error statuses are answers, not exceptions."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.app.base + path, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.app.tls_context(), timeout=30) as r:
                status, answer_headers, raw = r.status, r.headers, r.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, raw = error.code, error.headers, error.read()
        return status, answer_headers, (json.loads(raw) if raw else None)


class SchemathesisTest(AdminAPIAppliance):
    def engines(self):
        """One simulated engine, so that node listings hold a live entry too."""
        engine = Engine("--model", "sim-small")
        self.addCleanup(engine.stop)
        return [("sim-0", "sim-small", engine.url)]

    def seed(self):
        """A little of everything to list and to act on: orgs, environments, keys (one with a
        limit override), a catalog model, pending nodes and users; `self.existing` names them by
        path parameter."""
        self.existing = {"org": [], "env": [], "key": [], "node": [], "user": ["alice"]}
        for org in ("acme", "initech"):
            self.existing["org"] += [self.app.cli("org", "create", org)["id"], org]
            for env in ("dev", "prod"):
                self.existing["env"].append(self.app.cli("env", "create", org, env)["id"])
                self.existing["key"] += [self.app.cli("key", "create", org, env)["id"] for _ in range(2)]
        self.app.cli("limits", "set", "key", self.existing["key"][0], "--requests-per-minute", "600")
        self.app.cli("model", "add", "sim-small")
        for node in ("gpu-1", "gpu-2"):
            self.existing["node"] += [self.app.cli("node", "enroll", node)["node"]["id"], node]
        self.create_user("bob", "viewer")
        self.existing["user"].append("bob")

    def write_config(self):
        """A schemathesis.toml that offers, half the time, the id or name of something that exists
        for each path parameter: random strings alone would only ever reach the 400s and 404s."""
        path = os.path.join(self.app.dir, "schemathesis.toml")
        with open(path, "w") as f:
            for name, values in self.existing.items():
                f.write(f"[dictionaries.{name}s]\nvalues = {json.dumps(values)}\n\n")
            f.write("[parameters]\n")
            for name in self.existing:
                f.write(f'"path.{name}" = {{ dictionary = "{name}s", probability = 0.5 }}\n')
        return path

    @unittest.skipUnless(HAVE_SCHEMATHESIS, "schemathesis is not installed (scripts/e2e installs it)")
    def test_every_operation_answers_as_documented_and_never_with_a_server_error(self):
        command = [sys.executable, "-m", "schemathesis.cli", "--config-file", self.write_config(), "run", SPEC,
                   "--url", self.app.base, "--tls-verify", self.app.ca_file,
                   "--header", f"Authorization: Bearer {self.token}",
                   "--checks", ",".join(CHECKS),
                   "--phases", "examples,coverage,fuzzing,stateful",
                   "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
                   "--request-timeout", "30", "--generation-database", "none", "--no-color"]
        started = time.monotonic()
        result = subprocess.run(command, cwd=self.app.dir, capture_output=True, text=True, timeout=600,
                                env=dict(os.environ, NO_COLOR="1"))
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0,
                         f"schemathesis failed after {time.monotonic() - started:.0f} s (seed {SEED}):\n{output[-12000:]}"
                         f"\n--- airlockd log (tail) ---\n{self.app.log_text()[-3000:]}")
        selected = re.search(r"Selected: (\d+)/(\d+)", output)
        tested = re.search(r"Tested: (\d+)", output)
        self.assertTrue(selected and tested, output[-4000:])
        self.assertEqual(selected.group(1), selected.group(2), output[-4000:])
        self.assertEqual(tested.group(1), selected.group(2), output[-4000:])
        self.assertIsNone(self.app.daemon.poll(), "airlockd exited during the run")
        self.assertNotIn("admin request failed", self.app.log_text())


class SessionTest(AdminAPIAppliance):
    def sign_in(self, name="alice", password=PASSWORD):
        return self.request("POST", "/admin/v1/sessions", {"name": name, "password": password})

    def test_a_cli_made_user_signs_in_and_changes_need_the_csrf_token(self):
        status, headers, body = self.sign_in()
        self.assertEqual(status, 201, body)
        self.assertEqual((body["user"]["name"], body["user"]["role"], body["user"]["status"]), ("alice", "admin", "active"))
        self.assertEqual([field for field in body["user"] if field == "password" or "hash" in field], [])
        csrf = body["csrf_token"]
        self.assertGreater(body["idle_timeout_seconds"], 0)
        set_cookie = headers["Set-Cookie"]
        for attribute in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attribute, set_cookie)
        session = set_cookie.split(";")[0]
        self.assertTrue(session.startswith("airlock_session="), set_cookie)
        cookie = {"Cookie": session}

        status, _, me = self.request("GET", "/admin/v1/me", headers=cookie)
        self.assertEqual(status, 200, me)
        self.assertEqual((me["actor"], me["role"]), ("user:alice", "admin"))
        self.assertIn("users.manage", me["permissions"])

        status, _, refused = self.request("POST", "/admin/v1/orgs", {"name": "globex"}, headers=cookie)
        self.assertEqual(status, 403, refused)
        self.assertEqual((refused["error"]["type"], refused["error"]["code"]), ("permission_error", "forbidden"))
        self.assertIsNone(refused["error"]["param"])
        status, _, _ = self.request("POST", "/admin/v1/orgs", {"name": "globex"}, headers={**cookie, "X-CSRF-Token": "wrong"})
        self.assertEqual(status, 403)
        self.assertNotIn("globex", [org["name"] for org in self.app.cli("org", "list")])
        denied = self.app.audit("access.denied")
        self.assertTrue(denied and all(row["actor"] == "user:alice" for row in denied), denied)

        status, _, org = self.request("POST", "/admin/v1/orgs", {"name": "globex"}, headers={**cookie, "X-CSRF-Token": csrf})
        self.assertEqual(status, 201, org)
        self.assertEqual(org["name"], "globex")
        self.assertEqual(self.app.audit("org.create")[-1]["actor"], "user:alice")

        status, headers, _ = self.request("DELETE", "/admin/v1/sessions/current", headers={**cookie, "X-CSRF-Token": csrf})
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", headers["Set-Cookie"])
        status, _, gone = self.request("GET", "/admin/v1/me", headers=cookie)
        self.assertEqual(status, 401, gone)
        self.assertEqual(gone["error"]["code"], "unauthenticated")

    def test_changing_your_own_password_ends_your_sessions(self):
        _, headers, body = self.sign_in()
        cookie = {"Cookie": headers["Set-Cookie"].split(";")[0], "X-CSRF-Token": body["csrf_token"]}
        new_password = "a much longer passphrase"
        status, _, refused = self.request("POST", "/admin/v1/me/password",
                                          {"current_password": "wrong guess", "new_password": new_password}, headers=cookie)
        self.assertEqual((status, refused["error"]["code"]), (401, "sign_in_refused"))
        status, _, user = self.request("POST", "/admin/v1/me/password",
                                       {"current_password": PASSWORD, "new_password": new_password}, headers=cookie)
        self.assertEqual(status, 200, user)
        self.assertEqual(user["name"], "alice")
        self.assertGreaterEqual(user["password_changed_at"], body["user"]["password_changed_at"])
        status, _, _ = self.request("GET", "/admin/v1/me", headers=cookie)
        self.assertEqual(status, 401)
        self.assertEqual(self.sign_in()[0], 401)
        self.assertEqual(self.sign_in(password=new_password)[0], 201)

    def test_a_wrong_password_and_a_wrong_bearer_token_are_refused(self):
        status, headers, body = self.sign_in(password="not the password at all")
        self.assertEqual(status, 401, body)
        self.assertEqual((body["error"]["type"], body["error"]["code"]), ("authentication_error", "sign_in_refused"))
        self.assertNotIn("Set-Cookie", headers)
        status, _, body = self.request("GET", "/admin/v1/me")
        self.assertEqual((status, body["error"]["code"]), (401, "unauthenticated"))
        status, _, body = self.request("GET", "/admin/v1/me", headers={"Authorization": "Bearer alk_admin_" + "x" * 43})
        self.assertEqual((status, body["error"]["code"]), (401, "unauthenticated"))
        status, _, me = self.request("GET", "/admin/v1/me", headers={"Authorization": f"Bearer {self.token}"})
        self.assertEqual(status, 200, me)
        self.assertEqual((me["actor"], me["role"]), ("local-admin", "admin"))
        self.assertNotIn("org_id", me)


if __name__ == "__main__":
    unittest.main()
