"""The gateway benchmark's reference proxies (`airlock-bench bare-proxy`): each stack forwards a chat
to a real airlock-sim over TLS, keeps its connections across requests, survives the engine closing
an idle connection (as vLLM does after 5 s), and stops on SIGTERM. A reference that failed here
would make `./scripts/bench gateway` fail or, worse, measure something else."""

import http.client
import json
import os
import socket
import subprocess
import time
import unittest

from appliance import BIN, Appliance, Engine, free_port

CHAT = json.dumps({"model": "bench", "max_tokens": 4, "messages": [{"role": "user", "content": "hello there"}]})


class BareProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The engine closes a connection idle for 1 s, so a pause of 1.5 s meets that close.
        cls.engine = Engine("--model", "bench", "--tokens-per-second", "0", "--keep-alive-seconds", "1")
        # airlockd makes the TLS certificate the references serve, as in the benchmark.
        cls.app = Appliance([("sim", "bench", cls.engine.url)], licensed=False)
        cls.app.start()
        cls.app.stop()

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        cls.app.cleanup()

    def start(self, stack):
        port = free_port()
        tls = os.path.join(self.app.data, "tls")
        proxy = subprocess.Popen([os.path.join(BIN, "airlock-bench"), "bare-proxy", "--port", str(port),
                                  "--engine-port", str(self.engine.port), "--certificate", os.path.join(tls, "server.crt"),
                                  "--key", os.path.join(tls, "server.key"), "--stack", stack],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proxy.poll() is None and proxy.kill())
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return proxy, port
            except OSError:
                time.sleep(0.1)
        self.fail(f"bare-proxy --stack {stack} did not listen")

    def test_each_stack_forwards_keeps_alive_and_stops(self):
        for stack in ("nio", "hummingbird-nio", "hummingbird"):
            with self.subTest(stack=stack):
                proxy, port = self.start(stack)
                before = self.engine.requests_received()
                for pause in (0, 0, 1.5, 0):
                    time.sleep(pause)
                    connection = http.client.HTTPSConnection("127.0.0.1", port, context=self.app.tls_context(), timeout=10)
                    for _ in range(2):  # the second on the same client connection
                        connection.request("POST", "/v1/chat/completions", CHAT, {"Content-Type": "application/json"})
                        response = connection.getresponse()
                        body = json.loads(response.read())
                        self.assertEqual(response.status, 200, body)
                        self.assertEqual(body["usage"]["completion_tokens"], 4)
                        self.assertEqual(body["object"], "chat.completion")
                    connection.close()
                self.assertEqual(self.engine.requests_received() - before, 8)
                proxy.terminate()
                self.assertIsNotNone(proxy.wait(timeout=10), f"{stack} did not stop on SIGTERM")


if __name__ == "__main__":
    unittest.main()
