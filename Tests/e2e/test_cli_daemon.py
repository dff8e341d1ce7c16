"""The `airlock` CLI while the daemon runs: every admin command goes through the daemon's admin
API on its local socket (`<data_dir>/run/admin.sock`), so the daemon applies it itself — a
disabled user is out at once — and audits it under the CLI's own actor. With the daemon stopped,
the CLI works on the data directory directly."""

import json
import os
import ssl
import stat
import subprocess
import unittest
import urllib.error
import urllib.request
import warnings

from appliance import BIN, Appliance, Engine


class CLIThroughTheDaemonTest(unittest.TestCase):
    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.engine = Engine("--model", "sim-cli", "--tokens-per-second", "0")
        self.app = Appliance([("sim-cli", "sim-cli", self.engine.url)])
        self.app.start()

    def tearDown(self):
        self.app.cleanup()
        self.engine.stop()

    def airlock(self, *args, stdin=None):
        return subprocess.run([os.path.join(BIN, "airlock"), *args], env=self.app.env, input=stdin, capture_output=True, text=True)

    def api(self, path, cookie=None, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if cookie:
            headers["Cookie"] = cookie
        request = urllib.request.Request(self.app.base + path, data=None if body is None else json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=self.app.ca_file), timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def test_admin_commands_go_through_the_daemon_and_are_audited_as_the_cli(self):
        socket_path = os.path.join(self.app.data, "run", "admin.sock")
        self.assertTrue(stat.S_ISSOCK(os.stat(socket_path).st_mode))
        self.assertEqual(stat.S_IMODE(os.stat(socket_path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(socket_path)).st_mode), 0o700)

        since = self.app.log_offset()
        org = self.app.cli("org", "create", "via-daemon")
        self.app.cli("env", "create", "via-daemon", "prod")
        key = self.app.cli("key", "create", "via-daemon", "prod", "--name", "k", "--models", "sim-cli", "--expires", "30d")
        self.assertTrue(key["key"].startswith("alk_"))
        line = self.app.wait_for_log("admin action", "operation=create an org", "origin=local socket", since=since)
        self.assertIn("actor=cli:", line)
        self.app.wait_for_log("admin action", "operation=create a key", since=since)
        # The same answers as on the data directory: names, ids, the key listed by its prefix.
        listed = self.app.cli("key", "list", "--org", "via-daemon", "--env", "prod")
        self.assertEqual([k["id"] for k in listed], [key["id"]])
        self.assertEqual(self.app.cli("env", "show", "via-daemon/prod")["org_id"], org["id"])
        limits = self.app.cli("limits", "set", "env", "via-daemon/prod", "--concurrency", "2")
        self.assertEqual(limits["limits"]["concurrency"], 2)
        rows = [row for row in self.app.cli("audit", "list", "--limit", "10") if row["action"] in ("org.create", "key.create", "limits.set")]
        self.assertEqual(len(rows), 3)
        self.assertTrue(all(row["actor"].startswith("cli:") for row in rows), rows)

        # A refusal comes back as the CLI's own one-line error and exit status.
        refused = self.airlock("org", "create", "<b>bad</b>")
        self.assertEqual(refused.returncode, 1)
        self.assertIn("invalid org name", refused.stderr)
        self.assertEqual(len(refused.stderr.strip().splitlines()), 1)

    def test_a_user_disabled_with_the_cli_is_out_at_once(self):
        password = "a long password for bob"
        made = self.airlock("user", "create", "bob", "--role", "viewer", stdin=password + "\n")
        self.assertEqual(made.returncode, 0, made.stderr)
        status, headers, _ = self.api("/admin/v1/sessions", body={"name": "bob", "password": password})
        self.assertEqual(status, 201)
        cookie = headers["Set-Cookie"].split(";")[0]
        self.assertEqual(self.api("/admin/v1/me", cookie=cookie)[0], 200)
        self.assertEqual(self.airlock("user", "disable", "bob").returncode, 0)
        self.assertEqual(self.api("/admin/v1/me", cookie=cookie)[0], 401)

    def test_with_the_daemon_stopped_the_cli_works_on_the_data_directory(self):
        self.app.stop()
        self.assertFalse(os.path.exists(os.path.join(self.app.data, "run", "admin.sock")), "the socket outlived the daemon")
        self.app.cli("org", "create", "offline-org")
        self.assertIn("offline-org", [org["name"] for org in self.app.cli("org", "list")])
        # A socket file left by a daemon that died is not a daemon: the CLI acts directly.
        stale = os.path.join(self.app.data, "run", "admin.sock")
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()
        self.app.cli("org", "create", "after-a-crash")
        self.assertIn("after-a-crash", [org["name"] for org in self.app.cli("org", "list")])


if __name__ == "__main__":
    unittest.main()
