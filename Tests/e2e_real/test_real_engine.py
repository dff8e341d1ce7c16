"""Airlock in front of a REAL inference engine, on a CPU-only machine: llama.cpp's OpenAI-compatible
server (llama-cpp-python's `python -m llama_cpp.server`, via llama_engine.py which adds only a
record of what the engine answered; it has no `/health`, so the agent judges it by `/v1/models`) serving
SmolLM2-135M-Instruct (Q4_1 GGUF) on loopback, behind a real `airlock-agent`, enrolled in a real
`airlockd` over HTTPS; requests through Airlock with the official `openai` SDK. Each request's
ledger row is checked against what the engine itself reported, and the hash chain is verified.

Run by scripts/e2e-real-engine (opt-in: AIRLOCK_E2E_REAL=1 ./scripts/test), which builds the
engine, finds the model file and sets $AIRLOCK_REAL_MODEL and $AIRLOCK_BIN."""

import json
import os
import sys
import subprocess
import time
import unittest
import urllib.request
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import openai  # noqa: E402

from appliance import Agent, Appliance, free_port  # noqa: E402

MODEL = "smollm2"
NODE = "cpu-01"
MAX_TOKENS = 16
MESSAGES = [{"role": "user", "content": "Name three colours of the rainbow."}]
PROMPT = "The three primary colours are"


class LlamaServer:
    """`python -m llama_cpp.server` (through llama_engine.py) on a free loopback port. `url` is the
    base URL without /v1, as airlock-agent's --engine-url wants it."""

    def __init__(self, gguf, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.record_path = os.path.join(workdir, "engine-record.jsonl")
        self.log_path = os.path.join(workdir, "llama-server.log")
        open(self.record_path, "w").close()
        self.command = [sys.executable, os.path.join(HERE, "llama_engine.py"),
                        "--model", gguf, "--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(self.port),
                        "--n_ctx", "2048", "--n_threads", str(min(os.cpu_count() or 1, 4))]
        # llama_cpp.server lets $HOST and $PORT override its flags: keep them out.
        env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
        env["LLAMA_ENGINE_RECORD"] = self.record_path
        self.log = open(self.log_path, "w")
        started = time.monotonic()
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise AssertionError("llama_cpp.server exited:\n" + self.log_text()[-4000:])
            try:
                with urllib.request.urlopen(self.url + "/v1/models", timeout=2) as r:
                    self.models = [m["id"] for m in json.load(r)["data"]]
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise AssertionError("llama_cpp.server did not answer within 180 s:\n" + self.log_text()[-4000:])
                time.sleep(0.25)
        self.startup_seconds = time.monotonic() - started

    def records(self):
        with open(self.record_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def next_record(self, after, timeout=30):
        """The engine's record of the one request made since it had `after` records."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.records()
            if len(records) > after:
                assert len(records) == after + 1, f"the engine saw {len(records) - after} requests, not 1"
                return records[after]
            time.sleep(0.05)
        raise AssertionError("the engine recorded no request")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


class RealEngineTest(unittest.TestCase):
    results = []
    ledger_verified = None

    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        gguf = os.environ.get("AIRLOCK_REAL_MODEL")
        if not gguf or not os.path.exists(gguf):
            raise unittest.SkipTest("$AIRLOCK_REAL_MODEL (the SmolLM2 .gguf) is not set: run scripts/e2e-real-engine")
        cls.engine = cls.app = cls.agent = None
        cls.timings = {}
        try:
            cls.app = Appliance([])
            app = cls.app
            started = time.monotonic()
            cls.engine = LlamaServer(gguf, app.dir)
            cls.timings["engine up (model loaded)"] = cls.engine.startup_seconds
            app.cli("model", "add", MODEL)
            app.cli("org", "create", "acme")
            app.cli("env", "create", "acme", "prod")
            cls.key = app.cli("key", "create", "acme", "prod", "--name", "real-engine")["key"]
            started = time.monotonic()
            app.start(probe="/healthz")
            cls.timings["airlockd up"] = time.monotonic() - started
            started = time.monotonic()
            cls.agent = Agent(app, NODE)
            cls.agent.run(cls.engine, MODEL, wait="node active")
            cls.timings["agent enrolled, node active"] = time.monotonic() - started
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        for stop in (lambda: cls.agent and cls.agent.stop(), lambda: cls.engine and cls.engine.stop(),
                     lambda: cls.app and cls.app.cleanup()):
            try:
                stop()
            except Exception as error:  # keep stopping the rest
                print(f"cleanup: {error!r}", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.print_table()
        finally:
            cls.cleanup()

    # --- helpers ---------------------------------------------------------------------------------

    def client(self):
        return openai.OpenAI(base_url=self.app.base + "/v1", api_key=self.key, max_retries=0, timeout=120,
                             http_client=openai.DefaultHttpxClient(verify=self.app.ca_file))

    def row(self, request_id):
        rows = self.app.ledger_row(request_id)
        self.assertEqual(len(rows), 1, f"ledger rows for {request_id}: {rows}")
        return rows[0]

    def check_row(self, row, engine, streamed):
        self.assertEqual(row["node"], NODE)
        self.assertEqual(row["model"], MODEL)
        self.assertEqual(row["streamed"], 1 if streamed else 0)
        self.assertEqual(row["total_tokens"], row["prompt_tokens"] + row["completion_tokens"])
        self.assertEqual(row["finish_reason"], engine["finish_reason"])
        if engine["usage"] is not None:
            self.assertEqual(row["token_source"], "engine")
            self.assertEqual((row["prompt_tokens"], row["completion_tokens"]),
                             (engine["usage"]["prompt_tokens"], engine["usage"]["completion_tokens"]))
        else:
            # No usage from the engine: Airlock bills the chunks it saw and its prompt estimate, marked so.
            self.assertEqual(row["token_source"], "estimated")
            self.assertEqual(row["completion_tokens"], engine["content_chunks"])
            self.assertGreater(row["prompt_tokens"], 0)

    def verify_ledger(self):
        result = subprocess.run([os.path.join(os.environ.get("AIRLOCK_BIN", ""), "airlock"), "ledger", "verify"],
                                env=self.app.env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        RealEngineTest.ledger_verified = (result.stdout + result.stderr).strip() or "exit 0"

    def record(self, name, engine, row, client_usage, client_seconds, first_token_seconds=None):
        RealEngineTest.results.append(dict(name=name, engine=engine, row=row, client_usage=client_usage,
                                           client_seconds=client_seconds, first_token_seconds=first_token_seconds))

    # --- the requests ------------------------------------------------------------------------------

    def test_1_chat_completion(self):
        before = len(self.engine.records())
        started = time.monotonic()
        completion = self.client().chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0)
        elapsed = time.monotonic() - started
        engine = self.engine.next_record(before)
        self.assertEqual((engine["status"], engine["path"]), (200, "/v1/chat/completions"))
        self.assertIsNotNone(engine["usage"], "llama_cpp.server reports usage on non-streamed chat")
        self.assertGreater(engine["usage"]["completion_tokens"], 0)
        self.assertLessEqual(engine["usage"]["completion_tokens"], MAX_TOKENS)
        # The client got the engine's answer and usage unchanged.
        self.assertEqual(completion.choices[0].message.content, engine["text"])
        self.assertEqual((completion.usage.prompt_tokens, completion.usage.completion_tokens),
                         (engine["usage"]["prompt_tokens"], engine["usage"]["completion_tokens"]))
        row = self.row(completion._request_id)
        self.check_row(row, engine, streamed=False)
        self.verify_ledger()
        self.record("chat", engine, row, completion.usage.model_dump(), elapsed)

    def test_2_text_completion(self):
        before = len(self.engine.records())
        started = time.monotonic()
        completion = self.client().completions.create(model=MODEL, prompt=PROMPT, max_tokens=MAX_TOKENS, temperature=0)
        elapsed = time.monotonic() - started
        engine = self.engine.next_record(before)
        self.assertEqual((engine["status"], engine["path"]), (200, "/v1/completions"))
        self.assertIsNotNone(engine["usage"], "llama_cpp.server reports usage on non-streamed completions")
        self.assertEqual(completion.choices[0].text, engine["text"])
        self.assertEqual((completion.usage.prompt_tokens, completion.usage.completion_tokens),
                         (engine["usage"]["prompt_tokens"], engine["usage"]["completion_tokens"]))
        row = self.row(completion._request_id)
        self.check_row(row, engine, streamed=False)
        self.verify_ledger()
        self.record("completion", engine, row, completion.usage.model_dump(), elapsed)

    def test_3_streamed_chat_with_usage(self):
        before = len(self.engine.records())
        started = time.monotonic()
        stream = self.client().chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0,
                                                       stream=True, stream_options={"include_usage": True})
        request_id = stream.response.headers["x-request-id"]
        first_token, text, usage = None, "", None
        for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    if first_token is None:
                        first_token = time.monotonic() - started
                    text += choice.delta.content
            if chunk.usage:
                usage = chunk.usage
        elapsed = time.monotonic() - started
        engine = self.engine.next_record(before)
        self.assertEqual((engine["status"], engine["path"], engine["stream"]), (200, "/v1/chat/completions", True))
        self.assertTrue(engine["done"], "the engine ended its stream with [DONE]")
        # Airlock always asks the engine for the usage chunk.
        self.assertTrue(engine["asked_for_usage"])
        self.assertEqual(text, engine["text"])
        self.assertGreater(engine["content_chunks"], 0)
        if engine["usage"] is not None:
            self.assertIsNotNone(usage, "the client asked for usage and the engine sent it")
            self.assertEqual((usage.prompt_tokens, usage.completion_tokens),
                             (engine["usage"]["prompt_tokens"], engine["usage"]["completion_tokens"]))
        else:
            # llama-cpp-python's server ignores stream_options and sends no usage in streams; Airlock
            # passes on what the engine sent and invents no usage chunk for the client.
            self.assertIsNone(usage)
        row = self.row(request_id)
        self.check_row(row, engine, streamed=True)
        self.verify_ledger()
        self.record("chat, streamed", engine, row, usage.model_dump() if usage else None, elapsed, first_token)

    # --- the summary -------------------------------------------------------------------------------

    @classmethod
    def print_table(cls):
        if not cls.results:
            return
        out = sys.stderr
        reference = next((r for r in cls.results if r["name"] == "chat"), None)
        print("\n\nAirlock in front of llama.cpp (llama-cpp-python server, SmolLM2-135M-Instruct Q4_1, CPU)", file=out)
        header = f"{'request':<15} {'engine reported':<17} {'ledger row':<17} {'source':<10} {'node':<7} {'finish':<7} {'client s':>8} {'engine s':>8} {'ledger ms':>9}"
        print(header, file=out)
        print("-" * len(header), file=out)
        for r in cls.results:
            engine, row = r["engine"], r["row"]
            reported = (f"{engine['usage']['prompt_tokens']}+{engine['usage']['completion_tokens']}" if engine["usage"]
                        else f"none ({engine['content_chunks']} chunks)")
            billed = f"{row['prompt_tokens']}+{row['completion_tokens']}"
            print(f"{r['name']:<15} {reported:<17} {billed:<17} {row['token_source']:<10} {row['node']:<7} "
                  f"{str(row['finish_reason']):<7} {r['client_seconds']:>8.3f} {engine['seconds']:>8.3f} {row['latency_ms']:>9}", file=out)
        print("(tokens: prompt+completion; engine s: the engine's own time for the request; ledger ms: latency_ms in the row)", file=out)
        for r in cls.results:
            if r["first_token_seconds"] is not None:
                print(f"streamed chat: first token after {r['first_token_seconds']:.3f} s through Airlock "
                      f"(engine's first byte after {r['engine']['first_byte_seconds']:.3f} s)", file=out)
            if r["engine"]["usage"] is None and reference and reference["engine"]["usage"]:
                print(f"streamed chat: the engine sent no usage, so the row is 'estimated': prompt {r['row']['prompt_tokens']} "
                      f"(Airlock's estimate; the engine counted {reference['engine']['usage']['prompt_tokens']} for the same "
                      f"messages, non-streamed), completion {r['row']['completion_tokens']} = content chunks streamed", file=out)
        for name, seconds in cls.timings.items():
            print(f"{name}: {seconds:.2f} s", file=out)
        texts = [(r["name"], r["engine"]["text"]) for r in cls.results]
        for name, text in texts:
            print(f"{name} text: {text!r}", file=out)
        print(f"airlock ledger verify (after the last request): {cls.ledger_verified}", file=out, flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
