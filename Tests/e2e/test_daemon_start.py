"""`airlockd serve` when one of its sockets cannot be had: a port another process holds. It must
say which setting and address, and exit 1 — not 0, which systemd's `Restart=on-failure` and a
monitor read as a clean stop (releases before this one did exactly that, and named the agents'
port only as "There is no listening address bound for this server")."""

import json
import os
import subprocess
import unittest

from appliance import BIN, Appliance, free_port, hold_port


class PortInUseTest(unittest.TestCase):
    def test_a_port_in_use_is_named_and_the_daemon_exits_1_with_its_data_intact(self):
        for setting, attribute in (("[api] listen", "port"), ("[agents] listen", "agent_port")):
            with self.subTest(setting=setting):
                app = Appliance([], licensed=False)
                self.addCleanup(app.cleanup)
                port = getattr(app, attribute)
                holder = hold_port(port)
                self.addCleanup(holder.close)
                daemon = subprocess.run([os.path.join(BIN, "airlockd"), "serve"], env=app.env, capture_output=True,
                                        text=True, timeout=120)
                what = "the HTTPS API" if attribute == "port" else "node agents"
                expected = (f"could not listen for {what} ({setting}) on 127.0.0.1:{port}: "
                            "the address is already in use (another airlockd, or another service on that port?)")
                self.assertEqual(daemon.returncode, 1, daemon.stdout + daemon.stderr)
                self.assertIn("Error: " + expected, daemon.stdout + daemon.stderr)
                self.assertIn("server stopped", daemon.stderr)
                self.assertIn("stopped cleanly", daemon.stderr)
                # Nothing else is logged as an error for a stop the daemon chose (Hummingbird's
                # own lines about cancelled channels aside).
                ours = [line for line in daemon.stderr.splitlines()
                        if " error " in line and "HummingbirdCore" not in line and "server stopped" not in line]
                self.assertEqual(ours, [])
                # Its data is as it was: the ledger verifies, and the daemon starts once the port is free.
                verify = subprocess.run([os.path.join(BIN, "airlock"), "ledger", "verify"], env=app.env,
                                        capture_output=True, text=True)
                self.assertEqual(verify.returncode, 0, verify.stderr)
                self.assertIn("usage_ledger: OK", verify.stdout)
                holder.close()
                app.start(probe="/healthz")
                app.stop()


class SecondDaemonTest(unittest.TestCase):
    def test_a_second_daemon_on_the_same_data_directory_is_refused_and_the_first_keeps_serving(self):
        """Before this, a second `airlockd serve` on a running appliance's data directory (other
        ports) started: it rebuilt the counters under the first's leases, took over the admin
        socket and deleted it when it stopped, leaving the CLI no way to the running daemon."""
        app = Appliance([], licensed=False)
        self.addCleanup(app.cleanup)
        app.start(probe="/healthz")
        second = os.path.join(app.dir, "second.toml")
        with open(app.config) as f:
            text = f.read()
        with open(second, "w") as f:
            f.write(text.replace(f"127.0.0.1:{app.port}", f"127.0.0.1:{free_port()}")
                    .replace(f"127.0.0.1:{app.agent_port}", f"127.0.0.1:{free_port()}"))
        daemon = subprocess.run([os.path.join(BIN, "airlockd"), "serve"], env=dict(app.env, AIRLOCK_CONFIG=second),
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(daemon.returncode, 1, daemon.stdout + daemon.stderr)
        self.assertIn(f"Error: another process still holds the counters in {app.data}/counters after 10 s: another "
                      "airlockd is serving this data directory. Stop it first, or give this daemon a data_dir of its own",
                      daemon.stdout + daemon.stderr)
        # It touched neither the counters nor the admin socket.
        self.assertNotIn("counters rebuilt", daemon.stderr)
        self.assertNotIn("admin.sock", daemon.stderr)
        # The first is untouched: its socket is there, the CLI goes through it, it still serves.
        self.assertTrue(os.path.exists(os.path.join(app.data, "run", "admin.sock")))
        app.cli("org", "create", "after-refusal")
        self.assertIn("after-refusal", json.dumps(app.cli("org", "list")))
        self.assertIsNone(app.daemon.poll())


if __name__ == "__main__":
    unittest.main()
