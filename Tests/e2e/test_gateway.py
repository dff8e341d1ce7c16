"""The gateway end to end: real airlockd and airlock-sim processes on loopback, driven by the
official `openai` Python client (and raw HTTP for what the SDK will not send)."""

import http.client
import json
import re
import socket
import ssl
import struct
import subprocess
import time
import unittest
import warnings


import openai

from appliance import Appliance, Engine, free_port


class GatewayTest(unittest.TestCase):
    READ_DEADLINE = 3

    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        cls.engine = Engine("--model", "sim-small", "--model", "sim-embed", "--tokens-per-second", "1000")
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: placement must fail over
        # A short request read deadline, for the slow-body tests; every other request here
        # arrives in milliseconds.
        cls.app = Appliance([("sim-a", "sim-small", cls.engine.url), ("sim-dead", "sim-small", dead),
                             ("sim-e", "sim-embed", cls.engine.url), ("sim-slash", "org/slashed-1", cls.engine.url)],
                            api_config=f"request_read_timeout_seconds = {cls.READ_DEADLINE}")
        app = cls.app
        app.cli("org", "create", "acme")
        app.cli("env", "create", "acme", "prod")
        cls.keys = {}
        for name, extra in [("main", []), ("embed-only", ["--models", "sim-embed"]), ("slow", []),
                            ("suspended", []), ("quota", []), ("single", [])]:
            cls.keys[name] = app.cli("key", "create", "acme", "prod", "--name", name, *extra)
        app.cli("limits", "set", "key", cls.keys["slow"]["id"], "--requests-per-minute", "1")
        app.cli("limits", "set", "key", cls.keys["quota"]["id"], "--tokens-per-day", "10")
        app.cli("limits", "set", "key", cls.keys["single"]["id"], "--concurrency", "1")
        app.cli("key", "suspend", cls.keys["suspended"]["id"])
        app.start()

    @classmethod
    def tearDownClass(cls):
        cls.app.cleanup()
        cls.engine.stop()

    def client(self, key="main", **options):
        return openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.keys[key]["key"] if key in self.keys else key,
                             http_client=openai.DefaultHttpxClient(verify=self.app.ca_file), max_retries=0, **options)

    def raw(self, method, path, body=None, headers=None):
        connection = http.client.HTTPSConnection("127.0.0.1", self.app.port, context=self.app.tls_context(), timeout=10)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), data

    def open_tls(self, timeout=10):
        """A raw TLS connection to the API port, for what the SDK will not send."""
        raw = socket.create_connection(("127.0.0.1", self.app.port), timeout=timeout)
        return self.app.tls_context().wrap_socket(raw, server_hostname="127.0.0.1")

    @staticmethod
    def head(headers, path="/v1/chat/completions", extra=""):
        """A POST's request line and headers, `extra` header lines appended, ending the head."""
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}{extra}\r\n".encode()

    def outcome_lines(self, request_id=None, since=0):
        """The log's request outcome lines after offset `since` (for `request_id` if given)."""
        return [line for line in self.app.log_text()[since:].splitlines()
                if "] request " in line and (request_id is None or f"request_id={request_id}" in line)]

    def auth(self, key="main"):
        return {"Authorization": "Bearer " + self.keys[key]["key"], "Content-Type": "application/json"}

    def assert_openai_error(self, data, code=None):
        error = json.loads(data)["error"]
        self.assertEqual(set(error), {"message", "type", "param", "code"})
        if code:
            self.assertEqual(error["code"], code)
        for leak in ("127.0.0.1:", "sim-a", "sim-dead", "/tmp", self.app.dir):
            self.assertNotIn(leak, error["message"])
        return error

    # --- the happy paths ---------------------------------------------------------------------

    def test_models_lists_only_what_the_key_may_use(self):
        self.assertEqual(sorted(m.id for m in self.client().models.list()), ["org/slashed-1", "sim-embed", "sim-small"])
        self.assertEqual([m.id for m in self.client("embed-only").models.list()], ["sim-embed"])

    def test_one_model_is_retrieved_only_if_the_key_may_list_it(self):
        model = self.client().models.retrieve("sim-small")
        self.assertEqual((model.id, model.object), ("sim-small", "model"))
        # A name with a slash, as Hugging Face names are, sent by the SDK as it is and encoded.
        self.assertEqual(self.client().models.retrieve("org/slashed-1").id, "org/slashed-1")
        status, _, data = self.raw("GET", "/v1/models/org%2Fslashed-1", None, self.auth())
        self.assertEqual((status, json.loads(data)["id"]), (200, "org/slashed-1"))
        # Not allowed and not served get the same 404: a key cannot probe the catalog.
        for key, name in (("embed-only", "sim-small"), ("main", "nope"), ("main", "sim-small/extra")):
            with self.assertRaises(openai.NotFoundError) as caught:
                self.client(key).models.retrieve(name)
            self.assertEqual(caught.exception.code, "model_not_found")
        with self.assertRaises(openai.AuthenticationError):
            self.client("alk_not-a-key").models.retrieve("sim-small")

    def test_chat_non_stream_is_billed_as_the_sdk_saw_it(self):
        completion = self.client().chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "say four words please"}], max_tokens=7)
        self.assertEqual(completion.usage.completion_tokens, 7)
        rows = self.app.ledger_row(completion._request_id)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual((row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]),
                         (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens))
        self.assertEqual((row["model"], row["token_source"], row["streamed"], row["finish_reason"]),
                         ("sim-small", "engine", 0, "length"))
        self.assertEqual(row["key_id"], self.keys["main"]["id"])
        # The engine was sent Airlock's request id as x-request-id, which vLLM (and the
        # simulator) make their own: the answer's id names the ledger row.
        self.assertEqual(completion.id, "chatcmpl-" + completion._request_id)

    def test_stream_without_include_usage_hides_the_usage_chunk_but_bills_it(self):
        stream = self.client().chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "stream me"}], max_tokens=5, stream=True)
        request_id = stream.response.headers["x-request-id"]
        chunks = list(stream)
        self.assertTrue(all(chunk.choices for chunk in chunks), "the usage chunk leaked to a client that did not ask")
        self.assertTrue(all(chunk.usage is None for chunk in chunks))
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
        self.assertEqual(len(text.split()), 5)
        row = self.app.ledger_row(request_id)[0]
        self.assertEqual((row["completion_tokens"], row["token_source"], row["streamed"]), (5, "engine", 1))
        self.assertEqual({chunk.id for chunk in chunks}, {"chatcmpl-" + request_id})

    def test_stream_with_include_usage_gets_the_usage_the_ledger_holds(self):
        stream = self.client().chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "count with me"}], max_tokens=4, stream=True,
            stream_options={"include_usage": True})
        chunks = list(stream)
        usage = chunks[-1].usage
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(usage.completion_tokens, 4)
        row = self.app.ledger_row(stream.response.headers["x-request-id"])[0]
        self.assertEqual((row["prompt_tokens"], row["completion_tokens"]), (usage.prompt_tokens, usage.completion_tokens))

    def test_completions_and_embeddings(self):
        completion = self.client().completions.create(model="sim-small", prompt="once upon a time", max_tokens=3)
        self.assertEqual(completion.usage.completion_tokens, 3)
        self.assertEqual(self.app.ledger_row(completion._request_id)[0]["total_tokens"], completion.usage.total_tokens)
        embeddings = self.client().embeddings.create(model="sim-embed", input=["alpha beta", "gamma"])
        self.assertEqual(len(embeddings.data), 2)
        row = self.app.ledger_row(embeddings._request_id)[0]
        self.assertEqual((row["prompt_tokens"], row["completion_tokens"]), (3, 0))

    def test_rate_limit_headers_on_served_responses(self):
        raw = self.client().chat.completions.with_raw_response.create(
            model="sim-small", messages=[{"role": "user", "content": "hi"}], max_tokens=1)
        for name in ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                     "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"):
            self.assertIn(name, raw.headers)

    # --- refusals come back as the SDK's own exceptions -----------------------------------------

    def test_bad_key_is_401(self):
        with self.assertRaises(openai.AuthenticationError) as caught:
            self.client("alk_notarealkey000000000000000000000000").models.list()
        self.assertEqual(caught.exception.code, "invalid_api_key")

    def test_suspended_key_is_403_tenant_suspended(self):
        with self.assertRaises(openai.PermissionDeniedError) as caught:
            self.client("suspended").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(caught.exception.code, "tenant_suspended")

    def test_model_not_allowed_is_403_and_unknown_model_404(self):
        with self.assertRaises(openai.PermissionDeniedError) as caught:
            self.client("embed-only").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(caught.exception.code, "model_not_allowed")
        with self.assertRaises(openai.NotFoundError) as caught:
            self.client().chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(caught.exception.code, "model_not_found")

    def test_rate_limit_is_429_with_retry_after(self):
        client = self.client("slow")
        client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "one"}], max_tokens=1)
        with self.assertRaises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "two"}], max_tokens=1)
        error = caught.exception
        self.assertEqual(error.code, "rate_limit_exceeded")
        self.assertGreaterEqual(int(error.response.headers["retry-after"]), 1)
        self.assertEqual(error.response.headers["x-ratelimit-limit-requests"], "1")
        self.assertEqual(error.response.headers["x-ratelimit-remaining-requests"], "0")

    def test_daily_quota_and_max_tokens_cap_are_403_quota_exceeded(self):
        with self.assertRaises(openai.PermissionDeniedError) as caught:
            self.client("quota").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=50)
        self.assertEqual(caught.exception.code, "quota_exceeded")
        with self.assertRaises(openai.PermissionDeniedError) as caught:
            self.client().chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=10_000_000)
        self.assertEqual(caught.exception.code, "quota_exceeded")

    def test_engine_failure_is_502_and_not_billed(self):
        before = len(self.app.ledger())
        with self.assertRaises(openai.InternalServerError) as caught:
            self.client().chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "[sim:fail]"}])
        self.assertEqual(caught.exception.status_code, 502)
        self.assert_openai_error(caught.exception.response.content, "engine_error")
        time.sleep(0.3)
        self.assertEqual(len(self.app.ledger()), before)

    # --- streams that end early are still billed ----------------------------------------------

    def test_client_disconnect_mid_stream_is_billed_for_what_was_generated(self):
        stream = self.client().chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "go slowly [sim:tps=20]"}], max_tokens=200, stream=True)
        request_id = stream.response.headers["x-request-id"]
        for _, _ in zip(range(3), stream):
            pass
        stream.close()
        rows = self.app.ledger_row(request_id, timeout=15)
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual((row["finish_reason"], row["token_source"]), ("client_disconnected", "estimated"))
        self.assertGreaterEqual(row["completion_tokens"], 3)
        self.assertLess(row["completion_tokens"], 200)

    def test_client_reset_before_the_first_token_is_billed_and_frees_its_slots(self):
        # The engine sends its first token after 1.5 s; the client resets its connection (RST,
        # as a killed process or an aborting proxy does) at 0.3 s, so Airlock never gets to send
        # the response head. The request is still billed once and gives back its slots: the key's
        # one concurrency slot serves the next request at once, not after the 10-minute lease.
        key = self.keys["single"]
        before = len([r for r in self.app.ledger() if r["key_id"] == key["id"]])
        body = json.dumps({"model": "sim-small", "stream": True, "max_tokens": 5,
                           "messages": [{"role": "user", "content": "x [sim:ttft=1500]"}]}).encode()
        connection = self.open_tls()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.sendall(self.head(self.auth("single"), extra=f"Content-Length: {len(body)}\r\n") + body)
        time.sleep(0.3)
        connection.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            rows = [r for r in self.app.ledger() if r["key_id"] == key["id"]]
            if len(rows) > before:
                break
            time.sleep(0.1)
        self.assertEqual(len(rows), before + 1)
        self.assertEqual((rows[-1]["finish_reason"], rows[-1]["token_source"]), ("client_disconnected", "estimated"))
        self.assertEqual(len(self.outcome_lines(rows[-1]["request_id"])), 1)
        served = self.client("single").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=1)
        self.assertEqual(served.usage.completion_tokens, 1)

    def test_an_engine_4xx_is_relayed_without_the_engines_addresses_or_paths(self):
        # `[sim:status=N]` answers as vLLM did before it adopted OpenAI's error shape, naming its
        # own URL and model path, as engines write their messages for their operators.
        before = len(self.app.ledger())
        with self.assertRaises(openai.BadRequestError) as caught:
            self.client().chat.completions.create(
                model="sim-small", messages=[{"role": "user", "content": "x [sim:status=400]"}], max_tokens=2)
        error = self.assert_openai_error(caught.exception.response.content)
        self.assertEqual(error["message"], "The engine rejected the request: simulated error 400 at <url> (model files in <path>)")
        self.assertNotIn("/srv/models", error["message"])
        # An engine's 404 means Airlock sent the model to the wrong engine: its fault, a 502.
        with self.assertRaises(openai.InternalServerError) as caught:
            self.client().chat.completions.create(
                model="sim-small", messages=[{"role": "user", "content": "x [sim:status=404]"}], max_tokens=2)
        self.assertEqual(caught.exception.status_code, 502)
        self.assert_openai_error(caught.exception.response.content, "engine_error")
        time.sleep(0.3)
        self.assertEqual(len(self.app.ledger()), before)

    def test_engine_death_mid_stream_raises_in_the_sdk_and_is_billed(self):
        stream = self.client().chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "die [sim:die-after=2]"}], max_tokens=20, stream=True)
        request_id = stream.response.headers["x-request-id"]
        with self.assertRaises(openai.APIError):
            for _ in stream:
                pass
        row = self.app.ledger_row(request_id)[0]
        self.assertEqual((row["finish_reason"], row["completion_tokens"], row["token_source"]), ("engine_error", 2, "estimated"))

    def test_engine_without_usage_is_estimated(self):
        completion = self.client().chat.completions.create(
            model="sim-small", messages=[{"role": "user", "content": "no usage here [sim:no-usage]"}], max_tokens=4)
        self.assertIsNone(completion.usage)
        row = self.app.ledger_row(completion._request_id)[0]
        self.assertEqual(row["token_source"], "estimated")
        self.assertGreater(row["completion_tokens"], 0)

    # --- hostile input ------------------------------------------------------------------------

    def test_hostile_bodies_get_openai_errors_and_leave_no_row_or_lease(self):
        before = len(self.app.ledger())
        cases = [
            (b"{not json", 400, None),
            (b"[]", 400, None),
            (json.dumps({"model": 7, "messages": []}).encode(), 400, None),
            (json.dumps({"model": "sim-small", "messages": "hi"}).encode(), 400, None),
            (json.dumps({"model": "sim-small", "messages": [{"role": "wizard", "content": "x"}]}).encode(), 400, None),
            (json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": "x"}], "stream": 1}).encode(), 400, None),
            (json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"}).encode(), 400, None),
            (json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": "x"}], "max_tokens": True}).encode(), 400, None),
            (json.dumps({"model": "sim-small", "messages": [{"role": "user", "content": "x"}], "stream_options": {}}).encode(), 400, None),
            (b"x" * (5 * 1024 * 1024), 413, "request_too_large"),
        ]
        for body, status, code in cases:
            got, headers, data = self.raw("POST", "/v1/chat/completions", body, self.auth("single"))
            self.assertEqual(got, status, body[:80])
            self.assert_openai_error(data, code)
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "},
                        {"Authorization": "Bearer alk_\u00e9".encode("utf-8").decode("latin-1")}):
            got, _, data = self.raw("POST", "/v1/chat/completions", b"{}", headers)
            self.assertEqual(got, 401)
            self.assert_openai_error(data, "invalid_api_key")
        got, _, data = self.raw("GET", "/v1/nothing-here", None, self.auth())
        self.assertEqual(got, 404)
        self.assert_openai_error(data)
        time.sleep(0.3)
        self.assertEqual(len(self.app.ledger()), before)
        # The concurrency-1 key still works: no refusal left a lease behind.
        for _ in range(3):
            self.client("single").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=1)

    def trickle(self, headers, declared=200, every=0.5):
        """A chat request whose body is sent a byte every `every` seconds: (seconds until the
        connection was closed, everything received)."""
        connection = self.open_tls(timeout=30)
        connection.sendall(self.head(headers, extra=f"Content-Length: {declared}\r\n") + b"{")
        connection.setblocking(False)
        started, received = time.time(), b""
        try:
            while time.time() - started < 20:
                try:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                except ssl.SSLWantReadError:
                    pass
                try:
                    connection.send(b" ")
                except ssl.SSLWantWriteError:
                    pass
                time.sleep(every)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            pass
        finally:
            connection.close()
        return time.time() - started, received

    def test_a_body_trickled_past_the_read_deadline_gets_408_and_its_connection_closed(self):
        # A byte every 0.5 s keeps any idle timer satisfied; the deadline counts from the head.
        key = self.keys["single"]
        before = len(self.app.ledger())
        took, received = self.trickle(self.auth("single"))
        self.assertGreaterEqual(took, self.READ_DEADLINE - 0.5)
        self.assertLess(took, self.READ_DEADLINE + 5)
        self.assertTrue(received.startswith(b"HTTP/1.1 408"), received[:200])
        body = received.split(b"\r\n\r\n", 1)[1]
        self.assert_openai_error(body, "request_timeout")
        request_id = re.search(rb"x-request-id: (\S+)", received, re.I).group(1).decode()
        time.sleep(0.3)
        self.assertEqual(len(self.app.ledger()), before)
        self.assertEqual(len(self.outcome_lines(request_id)), 1)
        self.assertIn("request not received in time", self.app.log_text())
        # Nothing was admitted: the key's one concurrency slot is free.
        served = self.client("single").chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=1)
        self.assertEqual(served.usage.completion_tokens, 1)
        self.assertEqual(key["id"], self.app.ledger_row(served._request_id)[0]["key_id"])

    def test_a_refused_request_whose_body_never_ends_is_closed_at_the_deadline(self):
        # 401 is answered before the body is read; the connection still cannot be held open by
        # the rest of the body.
        took, received = self.trickle({"Content-Type": "application/json"})
        self.assertTrue(received.startswith(b"HTTP/1.1 401"), received[:200])
        self.assertLess(took, self.READ_DEADLINE + 5)

    def test_malformed_chunked_framing_is_400_not_an_internal_error(self):
        body = b'{"model":"sim-small","messages":[{"role":"user","content":"x"}]}'
        connection = self.open_tls()
        connection.sendall(self.head(self.auth("single"), extra="Transfer-Encoding: chunked\r\n") + b"ZZ\r\n" + body + b"\r\n0\r\n\r\n")
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except (ConnectionResetError, ssl.SSLError, socket.timeout):
            pass
        connection.close()
        self.assertTrue(received.startswith(b"HTTP/1.1 400"), received[:200])
        error = self.assert_openai_error(received.split(b"\r\n\r\n", 1)[1])
        self.assertEqual(error["type"], "invalid_request_error")
        self.assertIn("chunk", error["message"])

    def test_a_client_that_hangs_up_mid_body_is_refused_not_an_internal_error(self):
        # Three ways to leave: TCP FIN without TLS's close_notify, a reset, and a clean TLS close.
        # Each is the client's doing: one `refused` outcome with code incomplete_request, never
        # an error-level "request failed inside Airlock" counted against the error-rate alert.
        since = len(self.app.log_text())
        for leave in ("fin", "reset", "close_notify"):
            connection = self.open_tls()
            connection.sendall(self.head(self.auth("single"), extra="Content-Length: 100\r\n") + b'{"model"')
            time.sleep(0.3)
            if leave == "fin":
                connection.shutdown(socket.SHUT_RDWR)
            elif leave == "reset":
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                try:
                    connection.unwrap()
                except (ssl.SSLError, OSError):
                    pass  # the 400 may arrive after our close_notify
            connection.close()
        deadline = time.time() + 10
        while len(self.outcome_lines(since=since)) < 3 and time.time() < deadline:
            time.sleep(0.1)
        lines = self.outcome_lines(since=since)
        self.assertEqual(len(lines), 3, lines)
        for line in lines:
            self.assertIn("request refused", line)
            self.assertIn("code=incomplete_request", line)
        self.assertNotIn("request failed inside Airlock", self.app.log_text()[since:])

    def test_plain_http_on_the_tls_port_is_refused(self):
        with socket.create_connection(("127.0.0.1", self.app.port), timeout=5) as sock:
            sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            try:
                while chunk := sock.recv(4096):
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:200])
        self.assertIn(b'"code":"tls_required"', data)

    def test_each_request_logs_exactly_one_outcome(self):
        completion = self.client().chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=1)
        try:
            self.client().chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        except openai.NotFoundError as error:
            refused_id = error.response.headers["x-request-id"]
        time.sleep(0.2)
        for request_id in (completion._request_id, refused_id):
            self.assertEqual(len(self.outcome_lines(request_id)), 1)
        # The line names the key by its id, so a run of refusals can be traced to it; never its secret.
        self.assertIn(f"key_id={self.keys['main']['id']}", self.outcome_lines(refused_id)[0])
        log = self.app.log_text()
        for key in self.keys.values():
            self.assertNotIn(key["key"], log)


class LedgerAfterShutdownTest(unittest.TestCase):
    def test_graceful_stop_commits_every_row_and_the_chain_verifies(self):
        engine = Engine("--tokens-per-second", "0")
        app = Appliance([("sim-a", "sim-small", engine.url)])
        try:
            app.cli("org", "create", "o")
            app.cli("env", "create", "o", "e")
            key = app.cli("key", "create", "o", "e")["key"]
            app.start()
            client = openai.OpenAI(base_url=app.base + "/v1", api_key=key, http_client=openai.DefaultHttpxClient(verify=app.ca_file), max_retries=0)
            ids = [client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "x"}], max_tokens=2)._request_id
                   for _ in range(20)]
            app.stop()
            self.assertEqual(sorted(r["request_id"] for r in app.ledger()), sorted(ids))
            result = subprocess.run([f"{__import__('appliance').BIN}/airlock", "ledger", "verify"], env=app.env, capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        finally:
            app.cleanup()
            engine.stop()


if __name__ == "__main__":
    unittest.main()
