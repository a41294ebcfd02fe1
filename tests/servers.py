"""Run an ASGI app under a real uvicorn on a free loopback port, for tests that need real HTTP(S)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn


@contextlib.contextmanager
def running_server(app, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (port chosen by the OS) and yield its base URL; stop it afterwards."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                            ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if ssl_certfile else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
