"""`airlockd serve` when one of its sockets cannot be had: a port another process holds. It must
say which setting and address, and exit 1 — not 0, which systemd's `Restart=on-failure` and a
monitor read as a clean stop (releases before this one did exactly that, and named the agents'
port only as "There is no listening address bound for this server")."""

import os
import socket
import subprocess
import unittest

from appliance import BIN, Appliance


class PortInUseTest(unittest.TestCase):
    def test_a_port_in_use_is_named_and_the_daemon_exits_1_with_its_data_intact(self):
        for setting, attribute in (("[api] listen", "port"), ("[agents] listen", "agent_port")):
            with self.subTest(setting=setting):
                app = Appliance([], licensed=False)
                self.addCleanup(app.cleanup)
                port = getattr(app, attribute)
                holder = socket.socket()
                self.addCleanup(holder.close)
                holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                holder.bind(("127.0.0.1", port))
                holder.listen()
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


if __name__ == "__main__":
    unittest.main()
