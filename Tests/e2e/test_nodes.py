"""Nodes end to end: real airlock-agent processes enrol over HTTPS, hold their mutual-TLS gRPC
stream to airlockd, and put real airlock-sim engines in front of the scheduler. Each test uses
its own model, so its nodes are the only candidates for its requests and tests do not disturb
one another on the one shared appliance."""

import concurrent.futures
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

import openai

from appliance import BIN, Agent, Appliance, Engine, free_port

MODELS = ["m-basic", "m-dead", "m-failover", "m-midstream", "m-drain", "m-org", "m-private", "m-refused", "m-affinity",
          "m-bluegreen", "m-zone", "m-maintenance", "m-reload"]


class NodesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.app = Appliance([])
        app = cls.app
        for model in MODELS:
            app.cli("model", "add", model)
        cls.keys = {}
        for org in ["acme", "globex"]:
            app.cli("org", "create", org)
            app.cli("env", "create", org, "prod")
            cls.keys[org] = app.cli("key", "create", org, "prod", "--name", "main")["key"]
        app.cli("env", "create", "acme", "zoned", "--zone", "hall-b")
        cls.keys["acme-zoned"] = app.cli("key", "create", "acme", "zoned", "--name", "main")["key"]
        app.start(probe="/healthz")
        cls.engines, cls.agents = [], []

    @classmethod
    def tearDownClass(cls):
        for agent in cls.agents:
            agent.stop()
        for engine in cls.engines:
            engine.stop()
        cls.app.cleanup()

    def engine(self, *args):
        engine = Engine(*args)
        self.engines.append(engine)
        return engine

    def node(self, name, engine, *models, org=None, zone=None, **run):
        agent = Agent(self.app, name, org=org, zone=zone)
        self.agents.append(agent)
        return agent.run(engine, *models, **run)

    def client(self, org="acme"):
        """A client with org's key in its prod environment (`acme-zoned`: acme's zoned one)."""
        return openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.keys[org], max_retries=0,
                             http_client=openai.DefaultHttpxClient(verify=self.app.ca_file))

    def chat(self, model, content="hello", org="acme", **options):
        return self.client(org).chat.completions.create(
            model=model, messages=[{"role": "user", "content": content}], max_tokens=options.pop("max_tokens", 4), **options)

    def served_by(self, request_id):
        rows = self.app.ledger_row(request_id)
        self.assertEqual(len(rows), 1, request_id)
        return rows[0]["node"]

    def receiver(self, engines, before, timeout=10):
        """The engine whose received count rose above `before`, polled while a request is in flight."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for engine, count in zip(engines, before):
                if engine.requests_received() > count:
                    return engine
            time.sleep(0.02)
        raise AssertionError("no engine received the request")

    # --- enrolment and registration ---------------------------------------------------------------

    def test_agents_enrol_register_over_mtls_and_serve(self):
        engine = self.engine("--model", "m-basic")
        a = self.node("basic-a", engine, "m-basic")
        b = self.node("basic-b", engine, "m-basic")
        nodes = set()
        for i in range(6):
            completion = self.chat("m-basic", f"question {i}")
            self.assertEqual(completion.usage.completion_tokens, 4)
            nodes.add(self.served_by(completion._request_id))
        stream = self.chat("m-basic", "stream it", stream=True, stream_options={"include_usage": True})
        usage = [chunk.usage for chunk in stream if chunk.usage][-1]
        self.assertEqual(usage.completion_tokens, 4)
        self.assertLessEqual(nodes, {a.name, b.name})
        self.assertIn("registered with the control plane", a.log_text())
        # The token was used: replaying it from another host (state dir) is refused and audited.
        replay = a.enroll(a.enrolment["token"], os.path.join(self.app.dir, "replay"))
        self.assertNotEqual(replay.returncode, 0)
        self.assertIn("enrolment refused", replay.stderr)
        self.assertTrue(any(row["target_id"] == a.id for row in self.app.audit("node.enroll_refused")))

    # --- liveness, failover, draining ---------------------------------------------------------------

    def test_a_killed_or_silent_agent_is_dead_within_15_seconds_and_gets_no_traffic(self):
        engines = [self.engine("--model", "m-dead") for _ in range(3)]
        killed = self.node("dead-killed", engines[0], "m-dead")
        frozen = self.node("dead-frozen", engines[1], "m-dead")
        survivor = self.node("dead-survivor", engines[2], "m-dead")
        # Killed: its stream's connection closes, so the node is dead at once.
        since = self.app.log_offset()
        started = time.time()
        killed.stop(signal.SIGKILL)
        self.app.wait_for_log(f"node={killed.name} ", "connection lost", "node dead", since=since, timeout=20)
        took_killed = time.time() - started
        # Frozen: the connection stays open but heartbeats stop; 15 s after the last one it is dead.
        since = self.app.log_offset()
        started = time.time()
        frozen.process.send_signal(signal.SIGSTOP)
        try:
            self.app.wait_for_log(f"node={frozen.name} ", "no heartbeat", "node dead", since=since, timeout=25)
            took_frozen = time.time() - started
        finally:
            frozen.process.send_signal(signal.SIGKILL)
            frozen.process.send_signal(signal.SIGCONT)
        print(f"\n  node dead after its agent was killed: {took_killed:.1f} s; frozen: {took_frozen:.1f} s", flush=True)
        self.assertLess(took_killed, 5)
        # Heartbeats every 5 s, dead after 15 s without one, swept every second (and a loaded machine).
        self.assertLessEqual(took_frozen, 17.5)
        before = [engines[0].requests_received(), engines[1].requests_received()]
        for i in range(8):
            self.assertEqual(self.served_by(self.chat("m-dead", f"after {i}")._request_id), survivor.name)
        self.assertEqual([engines[0].requests_received(), engines[1].requests_received()], before)

    def test_an_engine_killed_before_the_first_byte_is_invisible_to_the_client(self):
        engines = [self.engine("--model", "m-failover", "--ttft-ms", "1500") for _ in range(2)]
        names = {id(engines[0]): "failover-a", id(engines[1]): "failover-b"}
        for engine in engines:
            self.node(names[id(engine)], engine, "m-failover")
        before = [engine.requests_received() for engine in engines]
        since = self.app.log_offset()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(self.chat, "m-failover", "a slow start", stream=True, stream_options={"include_usage": True})
            first = self.receiver(engines, before)
            first.kill()  # while the engine "thinks": nothing has reached the client yet
            stream = future.result(timeout=30)
            chunks = list(stream)
        self.assertEqual([c.usage for c in chunks if c.usage][-1].completion_tokens, 4)
        other = next(name for engine, name in ((e, names[id(e)]) for e in engines) if engine is not first)
        row = self.app.ledger_row(stream.response.headers["x-request-id"])[0]
        self.assertEqual((row["node"], row["failover"], row["format"]), (other, 1, 2))
        self.app.wait_for_log("request served after failover", since=since)
        # Once the dead engine's agent reports it (next heartbeat, within 5 s), its node takes no
        # work, so the next request needs no failover and is not marked.
        self.app.wait_for_log(f"node={names[id(first)]} ", "engine not ready", since=since, timeout=10)
        quiet = self.chat("m-failover", "no trouble")
        self.assertEqual(self.app.ledger_row(quiet._request_id)[0]["failover"], 0)
        self.assertEqual(subprocess.run([os.path.join(os.environ.get("AIRLOCK_BIN", ""), "airlock"), "ledger", "verify"],
                                        env=self.app.env, capture_output=True).returncode, 0)

    def test_engine_death_mid_stream_ends_with_an_error_event_and_bills_what_was_delivered(self):
        engine = self.engine("--model", "m-midstream", "--tokens-per-second", "10")
        self.node("midstream-a", engine, "m-midstream")
        stream = self.chat("m-midstream", "talk slowly", max_tokens=100, stream=True)
        request_id = stream.response.headers["x-request-id"]
        delivered = 0
        with self.assertRaises(openai.APIError):
            for chunk in stream:
                delivered += sum(1 for choice in chunk.choices if choice.delta.content)
                if delivered == 3:
                    engine.kill()
        row = self.app.ledger_row(request_id)[0]
        self.assertEqual((row["finish_reason"], row["token_source"]), ("engine_error", "estimated"))
        self.assertGreaterEqual(row["completion_tokens"], 3)
        self.assertLess(row["completion_tokens"], 100)

    def test_a_drained_node_finishes_in_flight_work_and_gets_nothing_new(self):
        engines = [self.engine("--model", "m-drain", "--tokens-per-second", "20") for _ in range(2)]
        names = ["drain-a", "drain-b"]
        for engine, name in zip(engines, names):
            self.node(name, engine, "m-drain")
        before = [engine.requests_received() for engine in engines]
        stream = self.chat("m-drain", "a long answer", max_tokens=40, stream=True, stream_options={"include_usage": True})
        busy = self.receiver(engines, before)
        busy_name, idle_name = (names[0], names[1]) if busy is engines[0] else (names[1], names[0])
        since = self.app.log_offset()
        self.app.cli("node", "drain", busy_name)
        self.app.wait_for_log(f"node={busy_name} ", "node draining", since=since, timeout=10)
        # The operator sees why, from the daemon's live snapshot (written every 5 s).
        self.wait_for(lambda: "draining (operator)" in subprocess.run(
            [os.path.join(BIN, "airlock"), "node", "show", busy_name], env=self.app.env, capture_output=True, text=True).stdout, timeout=12)
        # The in-flight stream runs to its end on the draining node...
        chunks = list(stream)
        self.assertEqual([c.usage for c in chunks if c.usage][-1].completion_tokens, 40)
        self.assertEqual(self.served_by(stream.response.headers["x-request-id"]), busy_name)
        # ...and nothing new goes there.
        received = busy.requests_received()
        for i in range(6):
            self.assertEqual(self.served_by(self.chat("m-drain", f"new {i}")._request_id), idle_name)
        self.assertEqual(busy.requests_received(), received)
        since = self.app.log_offset()
        self.app.cli("node", "resume", busy_name)
        self.app.wait_for_log(f"node={busy_name} ", "node active", since=since, timeout=10)

    def test_blue_green_upgrade_under_load_loses_no_request(self):
        """docs/OPERATIONS.md § Blue/green model upgrade, step by step, while clients keep calling."""
        blue_engines = [self.engine("--model", "m-bluegreen", "--tokens-per-second", "200") for _ in range(2)]
        blue = [self.node(f"bg-blue-{i}", engine, "m-bluegreen") for i, engine in enumerate(blue_engines)]
        outcomes, running, lock, stop = [], {}, threading.Lock(), threading.Event()

        def caller(worker):
            client = self.client()
            n = 0
            while not stop.is_set():
                n += 1
                started = time.time()
                with lock:
                    running[worker] = started
                try:
                    if n % 3 == 0:  # a longer stream now and then: in flight while the drain starts
                        stream = client.chat.completions.create(
                            model="m-bluegreen", messages=[{"role": "user", "content": f"w{worker} n{n}"}],
                            max_tokens=100, stream=True, stream_options={"include_usage": True})
                        usage = [c.usage for c in stream if c.usage][-1]
                        result = (stream.response.headers["x-request-id"], usage.completion_tokens == 100)
                    else:
                        completion = client.chat.completions.create(
                            model="m-bluegreen", messages=[{"role": "user", "content": f"w{worker} n{n}"}], max_tokens=8)
                        result = (completion._request_id, completion.usage.completion_tokens == 8)
                except Exception as error:  # every failure is a lost request: the test fails below
                    result = (None, repr(error))
                with lock:
                    outcomes.append((started, time.time()) + result)
                    del running[worker]

        workers = [threading.Thread(target=caller, args=(w,)) for w in range(4)]
        for worker in workers:
            worker.start()
        try:
            time.sleep(1.5)
            # 1. Green nodes with the new model version join beside the blue ones.
            green_engines = [self.engine("--model", "m-bluegreen", "--tokens-per-second", "200") for _ in range(2)]
            green = [self.node(f"bg-green-{i}", engine, "m-bluegreen") for i, engine in enumerate(green_engines)]
            time.sleep(1)
            # 2. Drain the blue nodes: from now on they get nothing new.
            since = self.app.log_offset()
            for node in blue:
                self.app.cli("node", "drain", node.name)
            for node in blue:
                self.app.wait_for_log(f"node={node.name} ", "node draining", since=since, timeout=10)
            drained_at = time.time()
            time.sleep(0.3)  # a call placed just before the drain may still be on its way to an engine
            received_at_drain = [engine.requests_received() for engine in blue_engines]
            # 3. Wait until what the blue engines were doing is done (the operator reads the
            #    engine's running-requests figure; here every call that began before is answered).
            deadline = time.time() + 30
            while time.time() < deadline:
                with lock:
                    if all(started > drained_at for started in running.values()):
                        break
                time.sleep(0.05)
            else:
                self.fail("calls begun before the drain never finished")
            time.sleep(1)
            received_at_retirement = [engine.requests_received() for engine in blue_engines]
            # 4. Retire blue: stop its agents and engines, revoke its nodes.
            for node in blue:
                node.stop()
            for engine in blue_engines:
                engine.stop()
            for node in blue:
                self.app.cli("node", "revoke", node.name)
            time.sleep(1.5)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
        failures = [o for o in outcomes if o[2] is None or o[3] is not True]
        self.assertEqual(failures, [], "requests lost or cut short during the upgrade")
        self.assertEqual(received_at_retirement, received_at_drain, "a drained node got new work")
        late = [request_id for started, _, request_id, _ in outcomes if started > drained_at + 0.5]
        self.assertGreater(len(late), 5)
        for request_id in [request_id for _, _, request_id, _ in outcomes]:
            self.assertEqual(len(self.app.ledger_row(request_id)), 1, request_id)
        for request_id in late:
            self.assertIn(self.served_by(request_id), {node.name for node in green})
        print(f"\n  blue/green under load: {len(outcomes)} requests, none lost; "
              f"{len(late)} after the drain, all on green", flush=True)

    def test_host_maintenance_and_agent_shutdown_drain_the_node(self):
        engines = [self.engine("--model", "m-maintenance") for _ in range(2)]
        host = self.node("maint-host", engines[0], "m-maintenance", drain_seconds=3)
        other = self.node("maint-other", engines[1], "m-maintenance")
        agent = os.path.join(os.environ.get("AIRLOCK_BIN", ""), "airlock-agent")
        since = self.app.log_offset()
        started = subprocess.run([agent, "maintenance", "start", "--state-dir", host.state, "--reason", "firmware update",
                                  "--in-seconds", "300"], capture_output=True, text=True)
        self.assertEqual(started.returncode, 0, started.stderr)
        self.app.wait_for_log(f"node={host.name} ", "maintenance in ", "firmware update", "node draining", since=since, timeout=10)
        for i in range(4):
            self.assertEqual(self.served_by(self.chat("m-maintenance", f"during {i}")._request_id), other.name)
        since = self.app.log_offset()
        ended = subprocess.run([agent, "maintenance", "end", "--state-dir", host.state], capture_output=True, text=True)
        self.assertEqual(ended.returncode, 0, ended.stderr)
        self.app.wait_for_log(f"node={host.name} ", "maintenance over", "node active", since=since, timeout=10)
        # A bad reason is refused on the host and changes nothing.
        refused = subprocess.run([agent, "maintenance", "start", "--state-dir", host.state, "--reason", "x" * 300],
                                 capture_output=True, text=True)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("1 to 200 characters", refused.stderr)
        # SIGTERM: the agent says it is going, the node drains at once, and after --drain-seconds
        # the agent hangs up and the node is dead.
        since = self.app.log_offset()
        host.stop(signal.SIGTERM)
        self.app.wait_for_log(f"node={host.name} ", "agent shutting down", "node draining", since=since, timeout=10)
        self.app.wait_for_log(f"node={host.name} ", "connection lost", "node dead", since=since, timeout=15)
        self.assertEqual(host.process.returncode, 0)

    def test_an_engine_reload_restarts_a_supervised_engine_without_losing_a_request(self):
        port = free_port()
        supervised = type("SupervisedEngine", (), {"url": f"http://127.0.0.1:{port}"})()
        sim = f"{os.path.join(BIN, 'airlock-sim')} --port {port} --model m-reload --tokens-per-second 100"
        reloaded = self.node("reload-supervised", supervised, "m-reload", drain_seconds=5, engine_command=sim)
        plain = self.node("reload-plain", self.engine("--model", "m-reload"), "m-reload")
        failures, served, stop = [], [], threading.Event()

        def caller():
            while not stop.is_set():
                try:
                    served.append(self.served_by(self.chat("m-reload", "keep going", max_tokens=20)._request_id))
                except Exception as error:
                    failures.append(repr(error))

        worker = threading.Thread(target=caller)
        worker.start()
        try:
            since = self.app.log_offset()
            self.app.cli("node", "reload", reloaded.name)
            self.app.wait_for_log(f"node={reloaded.name} ", "engine reload sent", since=since, timeout=10)
            self.app.wait_for_log(f"node={reloaded.name} ", "maintenance in 0 s: engine reload", "node draining", since=since, timeout=10)
            result = self.app.wait_for_log(f"node={reloaded.name} ", "node command result", since=since, timeout=60)
            self.assertIn("ok=true", result)
            self.assertIn("engine restarted and healthy", result)
            self.app.wait_for_log(f"node={reloaded.name} ", "maintenance over", "node active", since=since, timeout=15)
            during = len(served)
            time.sleep(1)
        finally:
            stop.set()
            worker.join(timeout=30)
        self.assertEqual(failures, [])
        self.assertGreater(len(served), during)
        # The reloaded engine serves again: with the other node drained, it takes the request.
        since = self.app.log_offset()
        self.app.cli("node", "drain", plain.name)
        self.app.wait_for_log(f"node={plain.name} ", "node draining", since=since, timeout=10)
        self.assertEqual(self.served_by(self.chat("m-reload", "after the reload")._request_id), reloaded.name)
        self.app.cli("node", "resume", plain.name)
        # An agent that does not start its engine says it cannot.
        since = self.app.log_offset()
        self.app.cli("node", "reload", plain.name)
        self.app.wait_for_log(f"node={plain.name} ", "node command result", "--engine-command", "ok=false", since=since, timeout=10)

    # --- org-owned nodes ------------------------------------------------------------------------------

    def test_org_owned_nodes_never_serve_another_org(self):
        owned_engine = self.engine("--model", "m-org", "--model", "m-private")
        shared_engine = self.engine("--model", "m-org")
        owned = self.node("org-globex", owned_engine, "m-org", "m-private", org="globex")
        shared = self.node("org-shared", shared_engine, "m-org")
        for i in range(10):
            self.assertEqual(self.served_by(self.chat("m-org", f"acme {i}")._request_id), shared.name)
            self.assertEqual(self.served_by(self.chat("m-org", f"globex {i}", org="globex")._request_id), owned.name)
        # Only globex's node serves m-private: acme is refused, and nothing reaches that engine.
        received = owned_engine.requests_received()
        # To acme the model does not exist: another org's private model is not even named.
        with self.assertRaises(openai.NotFoundError) as refused:
            self.chat("m-private", "let me in")
        self.assertEqual(refused.exception.code, "model_not_found")
        self.assertEqual(owned_engine.requests_received(), received)
        self.assertEqual(self.served_by(self.chat("m-private", "mine", org="globex")._request_id), owned.name)

    def test_an_environment_pinned_to_a_zone_is_served_there_and_only_there(self):
        home_engine, hall_b_engine = self.engine("--model", "m-zone"), self.engine("--model", "m-zone")
        home = self.node("zone-home", home_engine, "m-zone")
        hall_b = self.node("zone-hall-b", hall_b_engine, "m-zone", zone="hall-b")
        for i in range(5):
            self.assertEqual(self.served_by(self.chat("m-zone", f"z {i}", org="acme-zoned")._request_id), hall_b.name)
            self.assertEqual(self.served_by(self.chat("m-zone", f"h {i}")._request_id), home.name)
        row = self.app.ledger_row(self.chat("m-zone", "where", org="acme-zoned")._request_id)[0]
        self.assertEqual(row["zone"], "hall-b")
        # Strict pinning: with hall-b drained and no fallback zones configured, the zoned
        # environment is refused rather than served elsewhere.
        since = self.app.log_offset()
        self.app.cli("node", "drain", hall_b.name)
        self.app.wait_for_log(f"node={hall_b.name} ", "node draining", since=since, timeout=10)
        with self.assertRaises(openai.APIStatusError) as refused:
            self.chat("m-zone", "anyone?", org="acme-zoned")
        self.assertEqual(refused.exception.status_code, 503)
        # Moved home (audited, picked up within a second), it is served in the home zone.
        self.app.cli("env", "set-zone", "acme/zoned", "--home")
        self.wait_for(lambda: self.try_served_by("m-zone", "acme-zoned") == home.name, timeout=10)
        self.assertTrue(any(row["action"] == "env.set_zone" for row in self.app.audit("env.set_zone")))

    def try_served_by(self, model, org):
        try:
            return self.served_by(self.chat(model, "probe", org=org)._request_id)
        except openai.APIStatusError:
            return None

    # --- hostile input on the agent port --------------------------------------------------------------

    def test_hostile_agent_port_input_is_refused_logged_and_audited(self):
        nodes_before = self.app.cli("node", "list")
        # Garbage bytes: the connection is closed and the daemon goes on serving.
        with socket.create_connection(("127.0.0.1", self.app.agent_port), timeout=10) as raw:
            raw.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(4096))
            try:
                while raw.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        # TLS without a client certificate, and with one from a CA this appliance never made.
        with tempfile.TemporaryDirectory() as foreign:
            key, cert = os.path.join(foreign, "k.pem"), os.path.join(foreign, "c.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=gpu-evil",
                            "-addext", "subjectAltName=URI:urn:airlock:node:node_0000000000000000"],
                           check=True, capture_output=True)
            refused_before = len(self.app.audit("node.connect_refused"))
            self.assertFalse(self.tls_session_works(None))
            self.assertFalse(self.tls_session_works((cert, key)))
        self.wait_for(lambda: len(self.app.audit("node.connect_refused")) > refused_before)
        self.app.wait_for_log("node agent refused")
        # A revoked node's own certificate.
        revoked = Agent(self.app, "hostile-revoked")
        self.app.cli("node", "revoke", revoked.name)
        self.assertFalse(self.tls_session_works((os.path.join(revoked.state, "node.crt"), os.path.join(revoked.state, "node.key"))))
        self.wait_for(lambda: any(row["target_id"] == revoked.id for row in self.app.audit("node.connect_refused")))
        # An agent claiming a model the catalog does not have.
        engine = self.engine("--model", "m-unknown")
        liar = Agent(self.app, "hostile-liar")
        self.agents.append(liar)
        liar.run(engine, "m-unknown", wait=None)
        self.wait_for(lambda: any(row["target_id"] == liar.id for row in self.app.audit("node.register_refused")))
        # The daemon still serves, and the registry holds exactly what it held, plus the two
        # nodes this test enrolled — neither of them live.
        self.assertEqual(self.app.daemon.poll(), None)
        nodes_after = self.app.cli("node", "list")
        self.assertEqual([n for n in nodes_after if n["name"] not in ("hostile-revoked", "hostile-liar")], nodes_before)
        self.assertNotIn("node=hostile-liar reason=registered", self.app.log_text())
        self.assertNotIn("node=hostile-revoked reason=registered", self.app.log_text())

    def tls_session_works(self, client_certificate):
        """Whether a TLS client trusting the node CA gets a working session on the agent port:
        a gRPC preface that the server answers. With TLS 1.3 a refused client certificate shows
        only at the first read, so one is made."""
        context = ssl.create_default_context(cafile=os.path.join(self.app.data, "node-ca", "ca.crt"))
        context.check_hostname = False
        context.set_alpn_protocols(["h2"])
        if client_certificate:
            context.load_cert_chain(*client_certificate)
        try:
            with socket.create_connection(("127.0.0.1", self.app.agent_port), timeout=10) as raw:
                with context.wrap_socket(raw) as tls:
                    tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                    return len(tls.recv(1024)) > 0
        except (ssl.SSLError, ConnectionError, OSError):
            return False

    def wait_for(self, condition, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition():
                return
            time.sleep(0.1)
        self.fail("condition not met")

    # --- prefix affinity ---------------------------------------------------------------------------

    def test_prefix_affinity_keeps_a_system_prompt_on_its_node(self):
        engines = [self.engine("--model", "m-affinity", "--tokens-per-second", "400") for _ in range(3)]
        names = [f"affinity-{i}" for i in range(3)]
        for engine, name in zip(engines, names):
            self.node(name, engine, "m-affinity")
        prompts = [f"You are assistant number {p}. " * 20 for p in range(6)]
        served, lock = [], threading.Lock()

        def ask(i):
            prompt = prompts[i % len(prompts)]
            completion = self.client().chat.completions.create(
                model="m-affinity", max_tokens=8,
                messages=[{"role": "system", "content": prompt}, {"role": "user", "content": f"question {i}"}])
            with lock:
                served.append((i, prompt, completion._request_id))

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            list(pool.map(ask, range(120)))
        seen, hits, per_node = {}, 0, {name: 0 for name in names}
        for _, prompt, request_id in sorted(served):
            node = self.served_by(request_id)
            per_node[node] += 1
            hits += node in seen.setdefault(prompt, set())
            seen[prompt].add(node)
        repeats = len(served) - len(prompts)
        hit_rate = hits / repeats
        spread = max(per_node.values()) / max(1, min(per_node.values()))
        print(f"\n  prefix affinity through airlockd: hit rate {hit_rate:.2f} over {repeats} repeated prefixes "
              f"(1/{len(names)} = {1 / len(names):.2f} for placement blind to prefixes); "
              f"requests per node {per_node}, spread {spread:.2f}", flush=True)
        self.assertGreaterEqual(hit_rate, 0.6)
        self.assertGreater(min(per_node.values()), 0)


if __name__ == "__main__":
    unittest.main()
