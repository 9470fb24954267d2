"""Fixtures for the reward-system tests: a scripted OpenAI-compatible server on loopback, an isolated home."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def tool_call(name: str, args: Any, call_id: str | None = None) -> dict[str, Any]:
    """A scripted tool call; `args` is a dict (sent as JSON) or a raw string (sent verbatim, e.g. malformed)."""
    return {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args), "id": call_id}


class ScriptedServer:
    """Speaks POST /v1/chat/completions and replays `script`, one action per request.

    Actions: {"calls": [tool_call(...)]} or {"content": "text"} (an assistant reply), {"status": 500}
    (an error response), optionally with {"sleep": seconds} before answering. Every request body is
    recorded in `requests`. When the script is exhausted the server answers 500.
    """

    def __init__(self, script: list[dict[str, Any]] | None = None):
        self.script = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server._lock:
                    server.requests.append({"path": self.path, "body": json.loads(body)})
                    action = server.script.pop(0) if server.script else {"status": 500, "error": "script exhausted"}
                if action.get("sleep"):
                    server._stop.wait(action["sleep"])
                if self.path != "/v1/chat/completions":
                    action = {"status": 404, "error": f"no route {self.path}"}
                status = action.get("status", 200)
                payload = (server._completion(action, len(server.requests)) if status == 200
                           else {"error": {"message": action.get("error", "internal error"), "type": "server_error"}})
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status >= 500:
                        self.send_header("retry-after-ms", "20")  # as the real API does; keeps retries fast
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @staticmethod
    def _completion(action: dict[str, Any], n: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": action.get("content")}
        calls = action.get("calls")
        if calls:
            message["tool_calls"] = [{"id": c["id"] or f"call_{n}_{i}", "type": "function",
                                      "function": {"name": c["name"], "arguments": c["arguments"]}}
                                     for i, c in enumerate(calls)]
        return {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": "scripted",
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}

    def messages(self, i: int) -> list[dict[str, Any]]:
        """The messages of request `i`."""
        return self.requests[i]["body"]["messages"]

    def tool_results(self, i: int) -> list[str]:
        """Contents of the tool-result messages in request `i`."""
        return [m["content"] for m in self.messages(i) if m["role"] == "tool"]

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def scripted():
    """Factory: `with scripted([...]) as server:`."""
    return ScriptedServer


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Registered reward models and caches of a test live under its own RLAR_JAX_HOME, no agent env."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("RLAR_JAX_HOME", str(home))
    for k in ("BASE_URL", "MODEL", "API_KEY"):
        monkeypatch.delenv(f"RLAR_JAX_AGENT_{k}", raising=False)
    return home


@pytest.fixture
def call():
    """`call(name, args)`: a scripted tool call (see `tool_call`)."""
    return tool_call


# The sandbox's compiled guest is cached under the real home, not the per-test one above: building it
# costs tens of seconds, once.
_SANDBOX_HOME = os.environ.get("RLAR_JAX_HOME")


@pytest.fixture(scope="session")
def sandbox():
    """One real WebAssembly sandbox for the session (generated verifiers only ever run in it)."""
    from rlar_jax.sandbox import Sandbox

    sb = Sandbox(home=Path(_SANDBOX_HOME) if _SANDBOX_HOME else None)
    yield sb
    sb.close()
