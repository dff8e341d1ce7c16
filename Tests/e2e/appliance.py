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


def hold_port(port):
    """A socket listening on 127.0.0.1:`port`, so that a daemon finds the port taken; close it to free it."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


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
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def requests_received(self):
        with urllib.request.urlopen(self.url + "/sim/stats", timeout=5) as r:
            return json.load(r)["requests_received"]


class Appliance:
    def __init__(self, engines, extra_config="", licensed=True, api_config=""):
        """`licensed`: install a development licence with room for every test (its own vendor
        key, the offline cycle through airlock-vendor and airlock), instead of evaluation mode.
        `api_config`: lines for the `[api]` table, beside its `listen`."""
        self.dir = tempfile.mkdtemp(prefix="airlock-e2e-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.agent_port = free_port()
        self.config = os.path.join(self.dir, "airlock.toml")
        lines = [f'data_dir = "{self.data}"', "[api]", f'listen = "127.0.0.1:{self.port}"', api_config,
                 "[agents]", f'listen = "127.0.0.1:{self.agent_port}"', extra_config]
        for name, model, url in engines:
            lines += ["[[engines]]", f'name = "{name}"', f'model = "{model}"', f'url = "{url}"']
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.env = dict(os.environ, AIRLOCK_CONFIG=self.config, LOG_LEVEL="debug")
        subprocess.run([os.path.join(BIN, "airlockd"), "init"], env=self.env, check=True, capture_output=True)
        if licensed:
            self.trust_vendor_key()
            self.install_license()
        self.daemon = None
        self.log_path = os.path.join(self.dir, "airlockd.log")

    def vendor(self, *args):
        result = subprocess.run([os.path.join(BIN, "airlock-vendor"), *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"airlock-vendor {' '.join(args)}: {result.stderr}")
        return result.stdout

    ALL_FEATURES = ("prefix_routing", "org_owned_nodes", "reserved_capacity", "multi_zone")

    def trust_vendor_key(self):
        """A vendor key of the test's own, trusted by airlock.toml: call before start()."""
        self.vendor_key = os.path.join(self.dir, "vendor.key")
        trusted = os.path.join(self.dir, "trusted-keys")
        with open(trusted, "w") as f:
            f.write(self.vendor("keygen", "--out", self.vendor_key))
        with open(self.config, "a") as f:
            f.write(f'[license]\nvendor_key_files = ["{trusted}"]\n')

    def install_license(self, expires="2099-12-31", grace_days=0, license_id="e2e", max_nodes=1000, max_gpus=1000,
                        max_orgs=1000, features=ALL_FEATURES, not_before=None):
        """The whole offline cycle, file by file (daemon running or not); the activated status."""
        lic, req, act = (os.path.join(self.dir, name) for name in ("test.lic", "test-request.json", "test-activation.json"))
        flags = [arg for name in features for arg in ("--feature", name)] + (["--not-before", not_before] if not_before else [])
        self.vendor("issue", "--signing-key", self.vendor_key, "--license-id", license_id, "--customer", "Airlock e2e",
                    "--expires", expires, "--grace-days", str(grace_days), "--max-gpus", str(max_gpus),
                    "--max-nodes", str(max_nodes), "--max-orgs", str(max_orgs), *flags, "--out", lic)
        self.cli("license", "request", "--license", lic, "--out", req)
        self.vendor("activate", "--request", req, "--license", lic, "--signing-key", self.vendor_key, "--out", act)
        return self.cli("license", "activate", act)

    def cli(self, *args):
        result = subprocess.run([os.path.join(BIN, "airlock"), "--json", *args], env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"airlock {' '.join(args)}: {result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def start(self, probe="/readyz"):
        """Starts airlockd and waits for `probe` to answer 200 (/healthz when no engine exists yet:
        /readyz wants an active one)."""
        self.log = open(self.log_path, "w")
        self.daemon = subprocess.Popen([os.path.join(BIN, "airlockd"), "serve"], env=self.env,
                                       stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.daemon.poll() is None, open(self.log_path).read()
            try:
                with urllib.request.urlopen(self.base + probe, context=self.tls_context(), timeout=2) as r:
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
        return os.path.join(self.data, "tls", "ca.crt")

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

    def wait_for_log(self, *fragments, since=0, timeout=30):
        """The first log line after offset `since` holding every fragment; fails after `timeout`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.log_text()[since:].splitlines():
                if all(fragment in line for fragment in fragments):
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no log line with {fragments} within {timeout} s:\n" + self.log_text()[since:][-4000:])

    def log_offset(self):
        return len(self.log_text())

    def audit(self, action):
        db = sqlite3.connect(f"file:{os.path.join(self.data, 'airlock.sqlite')}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM audit_log WHERE action = ? ORDER BY seq", (action,))]
        finally:
            db.close()

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


class Agent:
    """One node: `airlock node enroll` for its one-time token, `airlock-agent enroll` with that
    token over HTTPS (the agent makes its key and CSR), then `airlock-agent run` in front of an
    engine, holding the mutual-TLS gRPC stream to the appliance's agent port."""

    def __init__(self, app, name, org=None, zone=None):
        self.app, self.name, self.zone = app, name, zone
        self.state = os.path.join(app.dir, "agents", name)
        self.enrolment = app.cli("node", "enroll", name, *(["--org", org] if org else []), *(["--zone", zone] if zone else []))
        self.id = self.enrolment["node"]["id"]
        result = self.enroll(self.enrolment["token"], self.state)
        assert result.returncode == 0, result.stderr
        self.process = None
        self.log_path = os.path.join(app.dir, f"agent-{name}.log")

    def enroll(self, token, state):
        return subprocess.run([os.path.join(BIN, "airlock-agent"), "enroll", "--state-dir", state,
                               "--appliance", f"https://localhost:{self.app.port}", "--appliance-ca", self.app.ca_file,
                               "--token", token], capture_output=True, text=True, timeout=60)

    def run(self, engine, *models, capacity=1000, drain_seconds=2, wait="node active", engine_command=None):
        """Starts the agent; waits for the daemon to log `wait` for this node (None: no wait).
        `engine_command`: the agent starts and supervises the engine itself."""
        since = self.app.log_offset()
        self.log = open(self.log_path, "a")
        command = [os.path.join(BIN, "airlock-agent"), "run", "--state-dir", self.state,
                   "--control", f"localhost:{self.app.agent_port}", "--engine-url", engine.url,
                   "--capacity", str(capacity), "--drain-seconds", str(drain_seconds)]
        for model in models:
            command += ["--model", model]
        if self.zone:
            command += ["--zone", self.zone]
        if engine_command:
            command += ["--engine-command", engine_command]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.app.wait_for_log(f"node={self.name} ", wait, since=since)
        return self

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=None):
        if self.process and self.process.poll() is None:
            if sig:
                self.process.send_signal(sig)
            else:
                self.process.terminate()
            self.process.wait(timeout=30)
