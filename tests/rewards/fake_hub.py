"""A loopback stand-in for the Hugging Face hub's HTTP API: model search, repo info and file downloads.

Serves repos from local directories so hub search and `hf:` model loading are exercised end to end
with the real `huggingface_hub` client (pointed at it through HF_ENDPOINT) and no internet.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse


class FakeHub:
    """`repos`: repo id -> (directory with its files, tags). Requests are recorded in `requests`."""

    def __init__(self, repos: dict[str, tuple[Path, list[str]]]):
        self.repos = repos
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                hub._serve(self, body=False)

            def do_GET(self) -> None:
                hub._serve(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _sha(repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()

    def _info(self, repo: str) -> dict:
        directory, tags = self.repos[repo]
        files = sorted(p.name for p in directory.iterdir() if p.is_file())
        return {"id": repo, "modelId": repo, "sha": self._sha(repo), "tags": tags, "pipeline_tag": "text-classification",
                "private": False, "downloads": 1, "likes": 0, "siblings": [{"rfilename": f} for f in files]}

    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        url = urlparse(h.path)
        path = unquote(url.path)
        self.requests.append(f"{h.command} {path}")
        payload, headers, status = None, {}, 200
        if path == "/api/models":
            query = parse_qs(url.query)
            words = " ".join(query.get("search", [""])).lower()
            payload = json.dumps([self._info(r) for r in self.repos if not words or words in r.lower()
                                  or any(words in t for t in self.repos[r][1])]).encode()
            headers["Content-Type"] = "application/json"
        elif path.startswith("/api/models/") and "/tree/" in path:
            repo = path[len("/api/models/"):].split("/tree/")[0]
            if repo in self.repos:
                directory = self.repos[repo][0]
                payload = json.dumps([{"type": "file", "path": p.name, "size": p.stat().st_size,
                                       "oid": hashlib.sha1(p.read_bytes()).hexdigest()}
                                      for p in sorted(directory.iterdir()) if p.is_file()]).encode()
                headers["Content-Type"] = "application/json"
            else:
                status = 404
        elif path.startswith("/api/models/"):
            repo = path[len("/api/models/"):].split("/revision/")[0]
            if repo in self.repos:
                payload = json.dumps(self._info(repo)).encode()
                headers["Content-Type"] = "application/json"
            else:
                status = 404
        elif "/resolve/" in path:
            repo, rest = path.lstrip("/").split("/resolve/", 1)
            filename = rest.split("/", 1)[1] if "/" in rest else ""
            file = self.repos[repo][0] / filename if repo in self.repos else None
            if file is not None and file.is_file():
                payload = file.read_bytes()
                etag = hashlib.sha256(payload).hexdigest()
                headers.update({"ETag": f'"{etag}"', "X-Repo-Commit": self._sha(repo),
                                "Content-Type": "application/octet-stream"})
            else:
                status = 404
                headers["X-Error-Code"] = "EntryNotFound"
        else:
            status = 404
        h.send_response(status)
        payload = payload if payload is not None else b""
        headers["Content-Length"] = str(len(payload))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        if body and payload:
            h.wfile.write(payload)
