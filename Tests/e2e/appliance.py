"""A real Airlock appliance on loopback for end-to-end tests: airlock-sim engines, an initialised
data dir, tenants made with the real `airlock` CLI, and `airlockd serve` over HTTPS.

Binaries come from $AIRLOCK_BIN (scripts/e2e sets it to `swift build --show-bin-path`)."""

import json
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
import urllib.request

BIN = os.environ.get("AIRLOCK_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    """One airlock-sim process; its port is read from the SIM_PORT line it prints."""

    def __init__(self, *args):
        self.process = subprocess.Popen([os.path.join(BIN, "airlock-sim"), "--port", "0", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline().strip()
        assert line.startswith("SIM_PORT="), f"airlock-sim printed {line!r}"
        self.port = int(line.split("=")[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Appliance:
    def __init__(self, engines, extra_config=""):
        self.dir = tempfile.mkdtemp(prefix="airlock-e2e-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.config = os.path.join(self.dir, "airlock.toml")
        lines = [f'data_dir = "{self.data}"', "[api]", f'listen = "127.0.0.1:{self.port}"', extra_config]
        for name, model, url in engines:
            lines += ["[[engines]]", f'name = "{name}"', f'model = "{model}"', f'url = "{url}"']
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.env = dict(os.environ, AIRLOCK_CONFIG=self.config, LOG_LEVEL="debug")
        subprocess.run([os.path.join(BIN, "airlockd"), "init"], env=self.env, check=True, capture_output=True)
        self.daemon = None
        self.log_path = os.path.join(self.dir, "airlockd.log")

    def cli(self, *args):
        result = subprocess.run([os.path.join(BIN, "airlock"), "--json", *args], env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"airlock {' '.join(args)}: {result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def start(self):
        self.log = open(self.log_path, "w")
        self.daemon = subprocess.Popen([os.path.join(BIN, "airlockd"), "serve"], env=self.env,
                                       stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.daemon.poll() is None, open(self.log_path).read()
            try:
                with urllib.request.urlopen(self.base + "/readyz", context=self.tls_context(), timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.2)
        raise AssertionError("airlockd did not become ready:\n" + open(self.log_path).read())

    @property
    def base(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self):
        return os.path.join(self.data, "tls", "server.crt")

    def tls_context(self):
        context = ssl.create_default_context(cafile=self.ca_file)
        return context

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            self.daemon.wait(timeout=30)
        if self.daemon:
            self.log.close()

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def ledger(self):
        db = sqlite3.connect(f"file:{os.path.join(self.data, 'airlock.sqlite')}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM usage_ledger ORDER BY seq")]
        finally:
            db.close()

    def ledger_row(self, request_id, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = [r for r in self.ledger() if r["request_id"] == request_id]
            if rows:
                return rows
            time.sleep(0.05)
        return []

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
