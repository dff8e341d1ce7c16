"""Signed upgrade bundles end to end (issue F): real bundles built by airlock-vendor from the real
binaries, a first install by appliance/install.sh into a temporary prefix, the real daemon
restarted from the new release by a restart command (what systemctl does on the appliance),
a failed release rolled back with its migrations undone and its ledger rows kept, kill -9 at
every step of apply, hostile bundles that must leave the prefix as it was, and
`systemd-analyze verify` on the installed units."""

import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request
import warnings

import openai

from appliance import BIN, Agent, Appliance, Engine

RESTART = """#!/bin/sh
# What `systemctl restart airlockd` does on the appliance: stop the daemon, run the release's
# ExecStartPre steps, start `current`'s airlockd.
dir="$(dirname "$0")"
"$dir/stop.sh"
"$AIRLOCK_PREFIX/current/bin/airlockd" check-config >> "$dir/airlockd.log" 2>&1 || exit 1
"$AIRLOCK_PREFIX/current/bin/airlockd" init >> "$dir/airlockd.log" 2>&1 || exit 1
"$AIRLOCK_PREFIX/current/bin/airlockd" serve >> "$dir/airlockd.log" 2>&1 < /dev/null &
echo $! > "$dir/airlockd.pid"
"""

STOP = """#!/bin/sh
# `systemctl stop airlockd`: SIGTERM (in-flight requests finish, rows committed), then wait.
dir="$(dirname "$0")"
pid="$(cat "$dir/airlockd.pid" 2>/dev/null || true)"
if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
fi
rm -f "$dir/airlockd.pid"
"""

# A release whose airlockd answers `version` like the real one but, started, runs a schema
# migration of its own and dies: the rollback must undo the migration and keep the ledger.
BROKEN_AIRLOCKD = """#!/bin/sh
if [ "$1" = "version" ]; then exec "{real}" version --json; fi
if [ "$1" = "check-config" ]; then exit 0; fi
if [ "$1" = "init" ]; then
    python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("INSERT INTO grdb_migrations VALUES (?)", ("990_broken_release",)); db.commit()' "$AIRLOCK_DATA/airlock.sqlite"
fi
echo "broken release: $1 fails" >&2
exit 1
"""


# What systemd does for airlock-agent.service: the privileged install-staged step, then the agent,
# and both again whenever the agent exits (Restart=always), until told to stop.
AGENT_SUPERVISOR = """#!/bin/sh
prefix="$1"; state="$2"; log="$3"; shift 3
while [ ! -e "$state.stop" ] && [ -d "$prefix" ]; do
    "$prefix/current/bin/airlock-agent" install-staged --state-dir "$state" --prefix "$prefix" $RELEASE_KEY_ARGS >> "$log" 2>&1
    "$prefix/current/bin/airlock-agent" run --state-dir "$state" $RELEASE_KEY_ARGS "$@" >> "$log" 2>&1 &
    echo $! > "$state.pid"
    wait $!
    sleep 0.5
done
"""


def tree(root):
    """Every path under root with its type, mode, link target and content hash."""
    listing = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            entry = [oct(st.st_mode)]
            if os.path.islink(path):
                entry.append(os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    entry.append(hashlib.sha256(f.read()).hexdigest())
            listing[os.path.relpath(path, root)] = entry
    return listing


class Releases:
    """The vendor's side, made once: a release key, stripped copies of the binaries, bundles."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="airlock-releases-")
        self.key = os.path.join(self.dir, "release.key")
        self.trusted = os.path.join(self.dir, "trusted-release-keys")
        with open(self.trusted, "w") as f:
            f.write(self.vendor("keygen", "--out", self.key, "--comment", "e2e release key"))
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        for name in ("airlockd", "airlock", "airlock-agent"):
            # Debug symbols make the bundles four times larger and slower to build and check.
            subprocess.run(["strip", "-o", os.path.join(self.bin, name), os.path.join(BIN, name)], check=True)
        self.bundles = {}

    def vendor(self, *args, key=None):
        result = subprocess.run([os.path.join(BIN, "airlock-vendor"), *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"airlock-vendor {' '.join(args)}: {result.stderr}")
        return result.stdout

    def bundle(self, version, bin_dir=None, key=None, minimum="0.9.0", appliance=None):
        name = (f"airlock-{version}{'-' + os.path.basename(bin_dir) if bin_dir else ''}{'-' + os.path.basename(key) if key else ''}"
                f"{'-' + os.path.basename(appliance) if appliance else ''}.bundle")
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            self.vendor("bundle", "build", "--signing-key", key or self.key, "--bin-dir", bin_dir or self.bin,
                        "--appliance", appliance or os.path.join(os.path.dirname(__file__), "../../appliance"),
                        "--version", version, "--minimum-from", minimum, "--out", path)
        return path

    def appliance_with_changed_unit(self):
        """The repository's appliance/ with one line of airlockd.service changed, as a release
        that raises a limit would ship it."""
        changed = os.path.join(self.dir, "appliance-unit-changed")
        if not os.path.exists(changed):
            shutil.copytree(os.path.join(os.path.dirname(__file__), "../../appliance"), changed)
            unit = os.path.join(changed, "systemd/airlockd.service")
            with open(unit) as f:
                text = f.read()
            assert "LimitNOFILE=65536" in text
            with open(unit, "w") as f:
                f.write(text.replace("LimitNOFILE=65536", "LimitNOFILE=131072"))
        return changed

    def tiny_bin(self):
        """Three scripts standing in for the binaries: enough for bundles that must be refused."""
        tiny = os.path.join(self.dir, "tiny")
        if not os.path.exists(tiny):
            os.makedirs(tiny)
            for name in ("airlockd", "airlock", "airlock-agent"):
                with open(os.path.join(tiny, name), "w") as f:
                    f.write(f'#!/bin/sh\nexec "{os.path.join(self.bin, "airlockd")}" version --json\n')
                os.chmod(os.path.join(tiny, name), 0o755)
        return tiny

    def broken_bin(self):
        """bin/ whose airlockd is the broken release above, beside the real airlock and agent."""
        broken = os.path.join(self.dir, "broken")
        if not os.path.exists(broken):
            os.makedirs(broken)
            for name in ("airlock", "airlock-agent"):
                os.link(os.path.join(self.bin, name), os.path.join(broken, name))
            with open(os.path.join(broken, "airlockd"), "w") as f:
                f.write(BROKEN_AIRLOCKD.format(real=os.path.join(self.bin, "airlockd")))
            os.chmod(os.path.join(broken, "airlockd"), 0o755)
        return broken

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class UpgradeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.releases = Releases()

    @classmethod
    def tearDownClass(cls):
        cls.releases.cleanup()

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)
        self.engine = Engine("--model", "sim-up", "--tokens-per-second", "0")
        self.scratch = tempfile.mkdtemp(prefix="airlock-upgrade-")
        self.root = os.path.join(self.scratch, "root")
        self.prefix = os.path.join(self.root, "opt/airlock")
        restart, stop = (os.path.join(self.scratch, name) for name in ("restart.sh", "stop.sh"))
        for path, text in ((restart, RESTART), (stop, STOP)):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self.app = Appliance([("sim-up", "sim-up", self.engine.url)], extra_config="\n".join([
            "[upgrade]", f'prefix = "{self.prefix}"', f'restart_command = ["{restart}"]', f'stop_command = ["{stop}"]',
            f'release_key_files = ["{self.releases.trusted}"]', "ready_timeout_seconds = 40",
            f'unit_directory = "{os.path.join(self.root, "etc/systemd/system")}"']))
        self.app.env.update(AIRLOCK_PREFIX=self.prefix, AIRLOCK_DATA=self.app.data)
        self.app.log_path = os.path.join(self.scratch, "airlockd.log")
        self.app.cli("org", "create", "bank")
        self.app.cli("env", "create", "bank", "prod")
        self.key = self.app.cli("key", "create", "bank", "prod")["key"]
        installed = subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "../../appliance/install.sh"), "--root", self.root,
                                    "--config", self.app.config, self.releases.bundle("0.9.0")],
                                   env=self.app.env, capture_output=True, text=True)
        self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
        self.restart = restart
        self.run_checked([restart])
        self.wait_ready("0.9.0")

    def tearDown(self):
        subprocess.run([os.path.join(self.scratch, "stop.sh")], env=self.app.env)
        self.app.cleanup()
        self.engine.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------

    def run_checked(self, command):
        result = subprocess.run(command, env=self.app.env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result

    def airlock(self, *args, env=None):
        """The CLI of the release now current, as an operator's PATH would find it."""
        return subprocess.run([os.path.join(self.prefix, "current/bin/airlock"), *args], env=env or self.app.env,
                              capture_output=True, text=True, timeout=300)

    def running_release(self):
        token = open(os.path.join(self.app.data, "secrets/admin-api.token")).read().strip()
        request = urllib.request.Request(self.app.base + "/admin/v1/upgrades", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=self.app.ca_file), timeout=5) as r:
            return json.load(r)

    def wait_ready(self, release, timeout=40):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.running_release()["running"].get("release") == release:
                    return
            except Exception:
                pass
            time.sleep(0.2)
        raise AssertionError(f"release {release} did not come up:\n" + open(self.app.log_path).read()[-3000:])

    def current(self):
        return os.readlink(os.path.join(self.prefix, "current"))

    def chat(self):
        """One served request, returned once its ledger row is committed: rows are appended off
        the response path, and the tests count them right after."""
        before = len(self.usage_ids())
        client = openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.key, max_retries=0,
                               http_client=openai.DefaultHttpxClient(verify=self.app.ca_file))
        answer = client.chat.completions.create(model="sim-up", messages=[{"role": "user", "content": "hi"}], max_tokens=3)
        deadline = time.time() + 10
        while len(self.usage_ids()) <= before and time.time() < deadline:
            time.sleep(0.05)
        return answer

    def ledger_verified(self):
        result = self.airlock("--json", "ledger", "verify")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return json.loads(result.stdout)

    def usage_ids(self):
        return [row["usage_id"] for row in self.app.ledger()]

    def migrations(self):
        import sqlite3
        db = sqlite3.connect(f"file:{os.path.join(self.app.data, 'airlock.sqlite')}?mode=ro", uri=True)
        try:
            return [row[0] for row in db.execute("SELECT identifier FROM grdb_migrations")]
        finally:
            db.close()

    # -- tests ---------------------------------------------------------------------------------

    def test_apply_then_roll_back_by_hand(self):
        for _ in range(3):
            self.chat()
        verified = self.airlock("upgrade", "verify", self.releases.bundle("0.9.1"))
        self.assertEqual(verified.returncode, 0, verified.stderr)
        self.assertIn("bundle OK: release 0.9.1", verified.stdout)

        applied = self.airlock("upgrade", "apply", self.releases.bundle("0.9.1"))
        self.assertEqual(applied.returncode, 0, applied.stdout + applied.stderr)
        self.assertIn("upgraded 0.9.0 → 0.9.1", applied.stdout)
        for step in ("staging release 0.9.1", "snapshot", "switching current", "waiting for /readyz", "smoke test"):
            self.assertIn(step, applied.stdout)
        self.assertNotIn("unit airlockd.service", applied.stdout)  # 0.9.1 ships the unit installed
        self.assertEqual(self.current(), "releases/0.9.1")
        self.assertEqual(self.running_release()["running"]["release"], "0.9.1")
        self.chat()
        self.assertFalse(os.path.exists(os.path.join(self.prefix, "upgrade-journal.json")))

        again = self.airlock("upgrade", "apply", self.releases.bundle("0.9.1"))
        self.assertEqual(again.returncode, 1)
        self.assertIn("already installed", again.stderr)

        rolled = self.airlock("upgrade", "rollback")
        self.assertEqual(rolled.returncode, 0, rolled.stdout + rolled.stderr)
        self.assertEqual(self.current(), "releases/0.9.0")
        self.assertEqual(self.running_release()["running"]["release"], "0.9.0")
        self.chat()
        self.assertEqual(self.ledger_verified()["rows_checked"], 5)

        history = self.airlock("upgrade", "history")
        self.assertEqual(history.returncode, 0, history.stderr)
        lines = history.stdout.splitlines()
        self.assertIn("upgrade.rollback", lines[0])
        self.assertIn("upgrade.apply", lines[1])
        self.assertIn("upgrade.start", lines[2])
        actions = [row["entry"]["action"] for row in self.running_release()["history"]]
        self.assertEqual(actions, ["upgrade.rollback", "upgrade.apply", "upgrade.start"])

    def test_a_failing_release_is_rolled_back_with_its_migration_undone_and_no_row_lost(self):
        for _ in range(3):
            self.chat()
        before = self.usage_ids()
        broken = self.releases.bundle("0.9.2", bin_dir=self.releases.broken_bin())
        applied = self.airlock("upgrade", "apply", broken)
        self.assertEqual(applied.returncode, 1, applied.stdout)
        self.assertIn("failed and was rolled back; 0.9.0 is running", applied.stderr)
        self.assertIn("putting the snapshot back", applied.stdout)
        self.assertEqual(self.current(), "releases/0.9.0")
        self.assertEqual(self.running_release()["running"]["release"], "0.9.0")
        self.assertNotIn("990_broken_release", self.migrations())
        self.assertEqual(self.usage_ids(), before)
        self.assertEqual(self.ledger_verified()["rows_checked"], 3)
        self.chat()
        snapshots = os.path.join(self.app.data, "upgrade-snapshots")
        kept = [name for folder in os.listdir(snapshots) for name in os.listdir(os.path.join(snapshots, folder))]
        self.assertTrue(any(name.startswith("replaced-") for name in kept), kept)
        actions = [row["entry"]["action"] for row in self.running_release()["history"]]
        self.assertEqual(actions[:2], ["upgrade.rollback", "upgrade.start"])

    def test_a_changed_unit_is_named_with_the_commands_to_install_it(self):
        installed = os.path.join(self.root, "etc/systemd/system/airlockd.service")
        shipped = os.path.join(self.prefix, "current/appliance/systemd/airlockd.service")
        self.assertNotIn("unit airlockd.service", self.airlock("upgrade", "status").stdout)
        applied = self.airlock("upgrade", "apply", self.releases.bundle("0.9.1", appliance=self.releases.appliance_with_changed_unit()))
        self.assertEqual(applied.returncode, 0, applied.stdout + applied.stderr)
        advice = (f"unit airlockd.service: the installed {installed} differs from the one release 0.9.1 ships; it takes effect "
                  f"once installed: sudo install -m 0644 {shipped} {installed} && sudo systemctl daemon-reload "
                  "&& sudo systemctl restart airlockd.service")
        self.assertIn(advice, applied.stdout)
        with open(installed) as f:
            self.assertIn("LimitNOFILE=65536", f.read())  # the upgrade wrote nothing outside the prefix
        self.assertIn(advice, self.airlock("upgrade", "status").stdout)
        status = json.loads(self.airlock("--json", "upgrade", "status").stdout)
        self.assertEqual(status["units_differing"], [{"unit": "airlockd.service", "installed": installed, "shipped": shipped}])
        # Installed as told (the agent's unit is not installed on this host: never named).
        shutil.copy(shipped, installed)
        self.assertNotIn("unit ", self.airlock("upgrade", "status").stdout)
        self.assertEqual(json.loads(self.airlock("--json", "upgrade", "status").stdout)["units_differing"], [])

    def test_kill_9_at_every_step_ends_on_one_release(self):
        self.chat()
        good, broken = self.releases.bundle("0.9.1"), self.releases.bundle("0.9.2", bin_dir=self.releases.broken_bin())
        # (bundle, step killed after, release recovery ends on). Before the switch the upgrade is
        # abandoned; after it, rolled back unless the new release had passed its checks.
        steps = [(good, "upgrade.started", "0.9.0"), (good, "upgrade.staged", "0.9.0"), (good, "upgrade.snapshotted", "0.9.0"),
                 (good, "upgrade.switching", "0.9.0"), (good, "upgrade.switched", "0.9.0"), (good, "upgrade.restarted", "0.9.1"),
                 (broken, "rollback.restoring", "0.9.1"), (broken, "rollback.restored", "0.9.1"), (broken, "rollback.switched", "0.9.1")]
        for bundle, step, ends_on in steps:
            with self.subTest(step=step):
                rows = len(self.usage_ids())
                crashed = self.airlock("upgrade", "apply", bundle, env=dict(self.app.env, AIRLOCK_UPGRADE_CRASH_AT=step))
                self.assertEqual(crashed.returncode, -signal.SIGKILL, crashed.stdout + crashed.stderr)
                status = self.airlock("upgrade", "status")
                self.assertIn("INTERRUPTED", status.stdout)
                recovered = self.airlock("upgrade", "recover")
                self.assertEqual(recovered.returncode, 0, recovered.stdout + recovered.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.prefix, "upgrade-journal.json")))
                self.assertEqual(self.current(), f"releases/{ends_on}")
                self.wait_ready(ends_on)
                self.assertNotIn("990_broken_release", self.migrations())
                self.chat()
                self.assertEqual(self.ledger_verified()["rows_checked"], rows + 1)
                self.assertEqual([n for n in os.listdir(os.path.join(self.prefix, "releases")) if n.startswith(".")], [])

    def test_hostile_bundles_leave_the_prefix_unchanged(self):
        licence_key = self.app.vendor_key  # trusted for licences, never for releases
        tiny = self.releases.tiny_bin()
        cases = {
            "licence key": self.releases.bundle("0.9.3", bin_dir=tiny, key=licence_key),
            "older": self.releases.bundle("0.8.0", bin_dir=tiny, minimum="0.8.0"),
        }
        truncated = os.path.join(self.scratch, "truncated.bundle")
        with open(self.releases.bundle("0.9.1"), "rb") as source, open(truncated, "wb") as out:
            data = source.read()
            out.write(data[: len(data) // 2])
        cases["truncated"] = truncated
        garbage = os.path.join(self.scratch, "garbage.bundle")
        with open(garbage, "wb") as f:
            f.write(os.urandom(4096))
        cases["garbage"] = garbage
        expected = {"licence key": "licence key", "older": "older than the installed", "truncated": "not a bundle",
                    "garbage": "not a bundle"}
        before = tree(self.prefix)
        for name, bundle in cases.items():
            with self.subTest(case=name):
                for command in ("verify", "apply"):
                    refused = self.airlock("upgrade", command, bundle)
                    self.assertEqual(refused.returncode, 1, refused.stdout)
                    self.assertIn(expected[name], refused.stderr)
                self.assertEqual(tree(self.prefix), before)
        self.assertEqual(self.running_release()["running"]["release"], "0.9.0")

    def start_agent(self, name, prefix, with_keys):
        """The node's supervisor loop (its systemd stand-in) with the agent from `prefix`."""
        state = os.path.join(self.app.dir, "agents", name)
        supervisor = os.path.join(self.scratch, "agent-supervisor.sh")
        with open(supervisor, "w") as f:
            f.write(AGENT_SUPERVISOR)
        env = dict(self.app.env, RELEASE_KEY_ARGS=f"--release-key-file {self.releases.trusted}" if with_keys else "")
        since = self.app.log_offset()
        process = subprocess.Popen(["sh", supervisor, prefix, state, os.path.join(self.scratch, f"agent-{name}.log"),
                                    "--control", f"localhost:{self.app.agent_port}", "--engine-url", self.engine.url,
                                    "--model", "sim-up", "--capacity", "1000", "--drain-seconds", "1"], env=env)
        self.app.wait_for_log(f"node={name} ", "node active", since=since, timeout=60)
        return process

    def stop_agent(self, name, process):
        state = os.path.join(self.app.dir, "agents", name)
        open(state + ".stop", "w").close()
        try:
            os.kill(int(open(state + ".pid").read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        process.wait(timeout=60)
        os.remove(state + ".stop")

    def test_agent_roll_out_one_node_at_a_time_stopping_at_the_first_failure(self):
        self.app.cli("model", "add", "sim-up")
        applied = self.airlock("upgrade", "apply", self.releases.bundle("0.9.1"))
        self.assertEqual(applied.returncode, 0, applied.stdout + applied.stderr)
        # Each GPU host has its own prefix, installed from the 0.9.0 bundle.
        agent_root = os.path.join(self.scratch, "gpu-root")
        installed = subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "../../appliance/install.sh"), "--agent",
                                    "--root", agent_root, "--config", self.app.config, self.releases.bundle("0.9.0")],
                                   env=self.app.env, capture_output=True, text=True)
        self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
        prefixes = {}
        for name in ("a-gpu", "b-gpu"):
            prefixes[name] = os.path.join(self.scratch, f"{name}-prefix")
            shutil.copytree(os.path.join(agent_root, "opt/airlock"), prefixes[name], symlinks=True)
            Agent(self.app, name)  # enrols it; the supervisor below runs it
        # a-gpu trusts no release key: it must refuse, and the roll-out stop there.
        agents = {"a-gpu": self.start_agent("a-gpu", prefixes["a-gpu"], with_keys=False),
                  "b-gpu": self.start_agent("b-gpu", prefixes["b-gpu"], with_keys=True)}
        try:
            refused = self.airlock("upgrade", "agents")
            self.assertEqual(refused.returncode, 1, refused.stdout + refused.stderr)
            self.assertIn("a-gpu: failed", refused.stdout)
            self.assertIn("trusts no release key", refused.stdout)
            self.assertIn("b-gpu: not_reached", refused.stdout)
            for name in prefixes:
                self.assertEqual(os.readlink(os.path.join(prefixes[name], "current")), "releases/0.9.0")

            self.stop_agent("a-gpu", agents["a-gpu"])
            agents["a-gpu"] = self.start_agent("a-gpu", prefixes["a-gpu"], with_keys=True)
            rolled = self.airlock("upgrade", "agents")
            self.assertEqual(rolled.returncode, 0, rolled.stdout + rolled.stderr)
            lines = rolled.stdout.splitlines()
            # One node at a time: b-gpu is offered the release only once a-gpu is back on it.
            b_moved = next(i for i, line in enumerate(lines) if line.startswith("b-gpu:") and not line.startswith("b-gpu: pending"))
            self.assertLess(lines.index("a-gpu: upgraded — registered again on 0.9.1"), b_moved, rolled.stdout)
            self.assertIn("b-gpu: upgraded — registered again on 0.9.1", lines)
            self.assertIn("roll-out of 0.9.1: done", rolled.stdout)
            for name in prefixes:
                self.assertEqual(os.readlink(os.path.join(prefixes[name], "current")), "releases/0.9.1")
                self.assertFalse(os.path.exists(os.path.join(self.app.dir, "agents", name, "upgrade")))
            actions = [row["action"] for row in self.app.audit("upgrade.agent")]
            self.assertEqual(len(actions), 3)  # a-gpu refused, then a-gpu and b-gpu upgraded
            again = self.airlock("upgrade", "agents")
            self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
            self.assertIn("a-gpu: skipped — already on 0.9.1", again.stdout)
        finally:
            for name, process in agents.items():
                self.stop_agent(name, process)

    def test_installed_units_pass_systemd_analyze_verify(self):
        # A real system has the targets the units name; the test root borrows them.
        targets = os.path.join(self.root, "usr/lib/systemd/system")
        os.makedirs(targets, exist_ok=True)
        for name in os.listdir("/usr/lib/systemd/system"):
            if name.endswith(".target"):
                shutil.copy(os.path.join("/usr/lib/systemd/system", name), targets)
        agent_root = os.path.join(self.scratch, "agent-root")
        installed = subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "../../appliance/install.sh"), "--agent",
                                    "--root", agent_root, "--config", self.app.config, self.releases.bundle("0.9.0")],
                                   env=dict(self.app.env, AIRLOCK_PREFIX=""), capture_output=True, text=True)
        self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
        shutil.copytree(targets, os.path.join(agent_root, "usr/lib/systemd/system"), dirs_exist_ok=True)
        os.makedirs(os.path.join(agent_root, "etc/airlock-agent"), exist_ok=True)
        open(os.path.join(agent_root, "etc/airlock-agent/agent.env"), "w").close()
        for root, unit in ((self.root, "airlockd.service"), (agent_root, "airlock-agent.service")):
            verified = subprocess.run(["systemd-analyze", "verify", f"--root={root}", f"/etc/systemd/system/{unit}"],
                                      capture_output=True, text=True)
            self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
            self.assertEqual(verified.stderr.strip(), "", verified.stderr)


if __name__ == "__main__":
    unittest.main()
