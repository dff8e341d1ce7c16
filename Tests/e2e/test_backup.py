"""Backup and restore end to end (issue F, part 1): a backup taken while the daemon serves,
the data directory wiped, restored with the real CLI, and the appliance back with the same
ledger head, the same keys and the same certificates."""

import os
import shutil
import subprocess
import unittest
import warnings

import openai

from appliance import BIN, Appliance, Engine


class BackupRestoreTest(unittest.TestCase):
    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.engine = Engine("--model", "sim-backup", "--tokens-per-second", "0")
        self.app = Appliance([("sim-backup", "sim-backup", self.engine.url)])
        self.app.cli("org", "create", "bank")
        self.app.cli("env", "create", "bank", "prod")
        self.key = self.app.cli("key", "create", "bank", "prod")["key"]
        self.passphrase = os.path.join(self.app.dir, "passphrase")
        with open(self.passphrase, "w") as f:
            f.write("a long backup passphrase\n")
        self.app.start()

    def tearDown(self):
        self.app.cleanup()
        self.engine.stop()

    def airlock(self, *args):
        return subprocess.run([os.path.join(BIN, "airlock"), *args], env=self.app.env, capture_output=True, text=True)

    def chat(self):
        client = openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.key, max_retries=0,
                               http_client=openai.DefaultHttpxClient(verify=self.app.ca_file))
        return client.chat.completions.create(model="sim-backup", messages=[{"role": "user", "content": "hi"}], max_tokens=3)

    def ledger_head(self):
        verified = self.airlock("ledger", "verify")
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
        return verified.stdout.strip()

    def test_backup_while_serving_then_wipe_and_restore(self):
        for _ in range(5):
            self.chat()
        backup = os.path.join(self.app.dir, "airlock-backup.zip")
        made = self.airlock("--json", "backup", "create", "--out", backup, "--passphrase-file", self.passphrase)
        self.assertEqual(made.returncode, 0, made.stderr)
        self.assertEqual(oct(os.stat(backup).st_mode & 0o777), "0o600")
        verified = self.airlock("backup", "verify", backup, "--passphrase-file", self.passphrase)
        self.assertEqual(verified.returncode, 0, verified.stderr)
        self.assertIn("backup intact", verified.stdout)
        # A restore while the daemon runs is refused, and changes nothing.
        refused = self.airlock("backup", "restore", backup, "--replace", "--passphrase-file", self.passphrase)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("stop it before restoring", refused.stderr)

        self.app.stop()
        head = self.ledger_head()
        with open(self.app.ca_file, "rb") as f:
            ca = f.read()
        shutil.rmtree(self.app.data)
        wrong = os.path.join(self.app.dir, "wrong")
        with open(wrong, "w") as f:
            f.write("not the passphrase at all\n")
        refused = self.airlock("backup", "restore", backup, "--passphrase-file", wrong)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("passphrase", refused.stderr)
        self.assertFalse(os.path.exists(self.app.data))

        restored = self.airlock("backup", "restore", backup, "--passphrase-file", self.passphrase)
        self.assertEqual(restored.returncode, 0, restored.stderr)
        self.assertEqual(self.ledger_head(), head)
        with open(self.app.ca_file, "rb") as f:
            self.assertEqual(f.read(), ca, "the HTTPS CA changed: every client would have to be told")
        self.app.start()
        self.assertIn("counters rebuilt from the ledger", self.app.log_text())
        self.chat()  # the old key still works: its secret's HMAC key came back with the backup


if __name__ == "__main__":
    unittest.main()
