"""The real app under uvicorn on a free loopback port, in a thread: for the HTTP client and CLI."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from registry.db import Database
from registry.ledger.signing import LogSigner
from registry.settings import Settings


@contextmanager
def live_server(db: Database, signer: LogSigner, settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    app = app or create_app(settings, db=db, signer=signer, migrate=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
