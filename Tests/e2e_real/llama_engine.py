"""`python -m llama_cpp.server` exactly as shipped (same entry point, same flags, same app), with one
addition the real-engine test needs, outside the inference path. (It has no `/health`;
airlock-agent then judges it by `/v1/models`, as it would in production.)

- With $LLAMA_ENGINE_RECORD set, one JSON line per `POST /v1/...` with what the engine itself
  answered (usage, generated text, content chunks, finish reason, timings) and what it was asked
  (stream, stream_options), taken from the ASGI messages as they leave the app: the test's
  ground truth for "what the engine did", independent of Airlock.

Usage: python llama_engine.py <the flags of python -m llama_cpp.server>"""

import json
import os
import sys
import threading
import time

import llama_cpp.server.__main__ as entry


def _events(body):
    """The JSON payloads of an event stream (sse_starlette's `data: ...` lines)."""
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                try:
                    yield json.loads(data)
                except ValueError:
                    pass


def summarise(request, status, body, stream):
    """What the engine answered, in the fields the test compares with the ledger."""
    record = {"status": status, "stream": stream, "usage": None, "text": "", "content_chunks": 0,
              "finish_reason": None, "done": b"[DONE]" in body}
    replies = list(_events(body)) if stream else []
    if not stream:
        try:
            replies = [json.loads(body)]
        except ValueError:
            replies = []
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        if reply.get("usage"):
            record["usage"] = {k: reply["usage"].get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        for choice in reply.get("choices") or []:
            text = choice.get("text")
            if text is None:
                text = ((choice.get("message") or choice.get("delta") or {}).get("content")) or ""
            if text:
                record["content_chunks"] += 1
                record["text"] += text
            if choice.get("finish_reason"):
                record["finish_reason"] = choice["finish_reason"]
    options = request.get("stream_options") if isinstance(request, dict) else None
    record["asked_for_usage"] = bool(isinstance(options, dict) and options.get("include_usage"))
    return record


class Recorder:
    """ASGI middleware: passes every message through unchanged, keeping copies of POST /v1/* bodies."""

    def __init__(self, app, path):
        self.app, self.path, self.lock = app, path, threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        started = time.monotonic()
        request_body = bytearray()
        state = {"status": None, "body": bytearray(), "first_byte": None}

        async def receive_and_keep():
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def send_and_keep(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                if message.get("body") and state["first_byte"] is None:
                    state["first_byte"] = time.monotonic()
                state["body"].extend(message.get("body", b""))
                if not message.get("more_body", False):
                    self.write(scope, bytes(request_body), state, started)
            await send(message)

        await self.app(scope, receive_and_keep, send_and_keep)

    def write(self, scope, request_body, state, started):
        try:
            request = json.loads(request_body)
        except ValueError:
            request = {}
        stream = bool(isinstance(request, dict) and request.get("stream"))
        record = summarise(request, state["status"], bytes(state["body"]), stream)
        ended = time.monotonic()
        record.update(path=scope["path"], model=request.get("model") if isinstance(request, dict) else None,
                      seconds=round(ended - started, 4),
                      first_byte_seconds=round(state["first_byte"] - started, 4) if state["first_byte"] else None)
        with self.lock, open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


_create_app = entry.create_app


def create_app(*args, **kwargs):
    app = _create_app(*args, **kwargs)
    record = os.environ.get("LLAMA_ENGINE_RECORD")
    if record:
        app.add_middleware(Recorder, path=record)
    return app


entry.create_app = create_app

if __name__ == "__main__":
    sys.argv[0] = "python -m llama_cpp.server"
    entry.main()
