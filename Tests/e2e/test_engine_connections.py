"""How many requests one engine is sent at once (`[gateway] max_connections_per_engine`): real
airlockd and airlock-sim processes on loopback, streams held open by raw HTTPS and the SDK.

Releases before this one sized the engine connection pool with `max_idle_connections_per_engine`
(64): the 65th concurrent request to one engine waited for a connection and, after the 2 s connect
timeout, failed with 502 although the engine was healthy, and a static engine's health probe
could queue behind them and mark it dead."""

import http.client
import json
import os
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request
import warnings

import openai

from appliance import BIN, Appliance, Engine


def stream(app, key, tokens, tps):
    """One streamed chat read to its end over its own connection: (status, events, request id)."""
    body = json.dumps({"model": "sim-small", "stream": True, "max_tokens": tokens,
                       "messages": [{"role": "user", "content": f"hold [sim:tps={tps}]"}]})
    connection = http.client.HTTPSConnection("127.0.0.1", app.port, context=app.tls_context(), timeout=120)
    try:
        connection.request("POST", "/v1/chat/completions", body,
                           {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        return response.status, data.count(b"data: {"), response.getheader("x-request-id"), data[:300]
    finally:
        connection.close()


def setup_tenant(app, **key_limits):
    app.cli("org", "create", "acme")
    app.cli("env", "create", "acme", "prod")
    key = app.cli("key", "create", "acme", "prod")
    flags = [arg for name, value in key_limits.items() for arg in ("--" + name.replace("_", "-"), str(value))]
    if flags:
        app.cli("limits", "set", "key", key["id"], *flags)
    return key


class ManyStreamsOnOneEngineTest(unittest.TestCase):
    def test_more_concurrent_streams_than_the_old_pool_held_are_all_served_and_billed(self):
        warnings.simplefilter("ignore", ResourceWarning)
        engine = Engine("--model", "sim-small")
        app = Appliance([("sim-a", "sim-small", engine.url)],
                        extra_config="[limits.env]\nconcurrency = 1000\n[limits.org]\nconcurrency = 1000")
        try:
            key = setup_tenant(app, concurrency=1000)
            app.start()
            # 80 streams of 12 s each: with a pool of 64 the last 16 would wait for a connection
            # and fail after 2 s, and the engine's health probe (every 5 s) would wait behind the 64
            # and fail too, taking the engine out of service.
            count, results = 80, []
            lock = threading.Lock()

            def run():
                result = stream(app, key["key"], 120, 10)
                with lock:
                    results.append(result)

            threads = [threading.Thread(target=run) for _ in range(count)]
            for thread in threads:
                thread.start()
            readiness = []
            while any(thread.is_alive() for thread in threads):
                try:
                    with urllib.request.urlopen(app.base + "/readyz", context=app.tls_context(), timeout=10) as r:
                        readiness.append(r.status)
                except urllib.error.HTTPError as error:
                    readiness.append(error.code)
                time.sleep(0.5)
            for thread in threads:
                thread.join(timeout=120)
            self.assertEqual(len(results), count)
            self.assertEqual(set(readiness), {200}, "the engine stayed in service")
            failed = [r for r in results if r[0] != 200]
            self.assertEqual(failed, [], f"{len(failed)} of {count} streams failed")
            ids = {r[2] for r in results}
            deadline = time.time() + 15
            while time.time() < deadline and len([r for r in app.ledger() if r["request_id"] in ids]) < count:
                time.sleep(0.1)
            rows = [r for r in app.ledger() if r["request_id"] in ids]
            self.assertEqual(len(rows), count)
            self.assertEqual({(r["completion_tokens"], r["token_source"], r["failover"]) for r in rows}, {(120, "engine", 0)})
            self.assertNotIn("getConnectionFromPoolTimeout", app.log_text())
        finally:
            app.cleanup()
            engine.stop()


class FullEngineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.engine = Engine("--model", "sim-small")
        # The obsolete key from an earlier release's file: still loads, noted, ignored.
        cls.app = Appliance([("sim-a", "sim-small", cls.engine.url)],
                            extra_config="[gateway]\nmax_connections_per_engine = 2\nmax_idle_connections_per_engine = 64")
        cls.holder = setup_tenant(cls.app)
        cls.other = cls.app.cli("key", "create", "acme", "prod", "--name", "other")
        cls.app.cli("limits", "set", "key", cls.other["id"], "--concurrency", "1")
        cls.app.start()

    @classmethod
    def tearDownClass(cls):
        cls.app.cleanup()
        cls.engine.stop()

    def client(self, key):
        return openai.OpenAI(base_url=self.app.base + "/v1", api_key=key["key"],
                             http_client=openai.DefaultHttpxClient(verify=self.app.ca_file), max_retries=0)

    def test_check_config_and_the_log_say_the_old_key_is_ignored(self):
        result = subprocess.run([os.path.join(BIN, "airlockd"), "check-config"], env=self.app.env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("gateway.max_connections_per_engine = 2", result.stdout)
        self.assertIn("note: gateway.max_idle_connections_per_engine is no longer used", result.stdout)
        self.app.wait_for_log("max_idle_connections_per_engine is no longer used")

    def test_a_full_engine_refuses_at_once_with_429_and_serves_again_once_a_slot_frees(self):
        holding = [self.client(self.holder).chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "hold [sim:tps=10]"}], max_tokens=30, stream=True)
            for _ in range(2)]
        for held in holding:
            next(iter(held))  # each stream is in flight on the engine
        before = len(self.app.ledger())
        started = time.time()
        with self.assertRaises(openai.RateLimitError) as caught:
            self.client(self.other).chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=2)
        self.assertLess(time.time() - started, 1.5, "refused at once, not after the connect timeout")
        response = caught.exception.response
        self.assertEqual(response.status_code, 429)
        self.assertEqual(caught.exception.code, "server_overloaded")
        self.assertEqual(response.headers["retry-after"], "1")
        self.assertIn("x-ratelimit-remaining-requests", response.headers)
        error = response.json()["error"]
        self.assertEqual(set(error), {"message", "type", "param", "code"})
        self.assertNotIn("127.0.0.1", error["message"])
        self.assertNotIn("sim-a", error["message"])
        for held in holding:
            for _ in held:
                pass
        time.sleep(0.3)
        self.assertEqual(len(self.app.ledger()), before + 2, "the two streams, and nothing for the refusal")
        # The refusal gave back its admission slot: this key's one slot serves the next request.
        served = self.client(self.other).chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=2)
        self.assertEqual(served.usage.completion_tokens, 2)
        log = self.app.log_text()
        self.assertNotIn("getConnectionFromPoolTimeout", log)
        self.assertIn("code=server_overloaded", log)
        self.assertNotIn("failing over", log, "a full node is passed over, not failed")
        with open(os.path.join(self.app.data, "secrets", "metrics.token")) as f:
            token = f.read().strip()
        request = urllib.request.Request(self.app.base + "/metrics", headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(request, context=self.app.tls_context(), timeout=10) as r:
            scrape = r.read().decode()
        self.assertRegex(scrape, r'airlock_node_saturated_total\{[^}]*node="sim-a"[^}]*\} 1\b')
        self.assertNotRegex(scrape, r"airlock_failovers_total\{")


def connections_to(port):
    """Established TCP connections whose remote end is `port` on loopback (the clients' side)."""
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return sum(1 for row in rows if int(row[2].split(":")[1], 16) == port and row[3] == "01")


class EngineKeepAliveTest(unittest.TestCase):
    def test_airlock_closes_an_idle_engine_connection_before_the_engine_would(self):
        # vLLM and SGLang close an idle connection after 5 s; a request sent on it at that instant
        # fails. Airlock closes its own first (engine_keepalive_seconds, 4 by default; 1 here),
        # so it never sends on a connection the engine is closing. This engine never closes one.
        warnings.simplefilter("ignore", ResourceWarning)
        engine = Engine("--model", "sim-small", "--keep-alive-seconds", "0")
        app = Appliance([("sim-a", "sim-small", engine.url)], extra_config="[gateway]\nengine_keepalive_seconds = 1")
        try:
            key = setup_tenant(app)
            app.start()
            client = openai.OpenAI(base_url=app.base + "/v1", api_key=key["key"],
                                   http_client=openai.DefaultHttpxClient(verify=app.ca_file), max_retries=0)
            client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=1)
            self.assertGreaterEqual(connections_to(engine.port), 1, "the request's connection, pooled")
            # The static engine's probe (every 5 s, its own pool, same idle time) may be open for a
            # moment too: wait for a time with none.
            deadline, counts = time.time() + 4, []
            while time.time() < deadline:
                counts.append(connections_to(engine.port))
                if counts[-1] == 0:
                    break
                time.sleep(0.1)
            self.assertEqual(counts[-1], 0, f"connections to the engine over 4 s: {counts}")
            # And the next request simply opens a new one.
            reply = client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=1)
            self.assertEqual(reply.usage.completion_tokens, 1)
        finally:
            app.cleanup()
            engine.stop()


if __name__ == "__main__":
    unittest.main()
