"""The `/metrics` HTTP endpoint, served by the server's own event loop.

Why not `prometheus_client.start_http_server`: it serves from a thread, which would read the
projection runner's progress (the lag gauge) from outside the event loop that changes it, and
it has no stop that the server's shutdown could await. A scrape is one small GET a few times
a minute; answering it on the loop costs a millisecond or two of the loop's time, and the
endpoint starts and stops with the gRPC server. Nothing beyond `GET /metrics` is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

PATH = b"/metrics"
# A scraper sends a request line and a few headers; anything slower or larger is not one.
_REQUEST_SECONDS = 10.0
_MAX_HEADERS = 100


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets) as a host and a port number."""
    host, separator, port = listen.rpartition(":")
    if not separator or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port, got {listen!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


class MetricsEndpoint:
    """Serves a registry in the Prometheus text format at `GET /metrics` on `listen`."""

    def __init__(self, registry: CollectorRegistry, listen: str) -> None:
        self._registry = registry
        self._host, self._port = split_listen(listen)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def started(self) -> bool:
        """Whether it is listening."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (the OS picks one when `listen` says port 0)."""
        if self._server is None:
            raise RuntimeError("the metrics endpoint is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and start answering."""
        self._server = await asyncio.start_server(self._answer, self._host, self._port)
        log.info("metrics endpoint listening", extra={"host": self._host, "port": self.port})

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._connections):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            async with asyncio.timeout(_REQUEST_SECONDS):
                request_line = await reader.readline()
                await _skip_headers(reader)
            status, content_type, body = self._respond(request_line)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("ascii") + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client that went away or sent no HTTP (ValueError: a line over the reader's limit)
        finally:
            self._connections.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _respond(self, request_line: bytes) -> tuple[str, str, bytes]:
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return "400 Bad Request", "text/plain", b"bad request\n"
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if target != PATH:
            return "404 Not Found", "text/plain", b"not found: the metrics are at /metrics\n"
        if method != b"GET":
            return "405 Method Not Allowed", "text/plain", b"only GET\n"
        return "200 OK", CONTENT_TYPE_LATEST, generate_latest(self._registry)


async def _skip_headers(reader: asyncio.StreamReader) -> None:
    for _ in range(_MAX_HEADERS):
        if await reader.readline() in (b"\r\n", b"\n", b""):
            return
    raise ValueError("too many headers")
