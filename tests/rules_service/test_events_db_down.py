"""PostgreSQL unreachable → 503, and the retried event is decided once when it is back."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from sqlalchemy import func, select

from rules_service.outbox.models import OutboxRow
from rules_service.runs.models import Run
from tests.rules_service.test_events_support import event, harness


class Proxy:
    """A TCP forwarder that can be cut and restored, standing in for a database outage."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        assert self._server is not None
        for sock in [self._server, *self._sockets]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


def test_database_down_answers_503_and_nothing_is_lost_or_duplicated(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    proxied = pg_url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    h = harness(proxied)
    body = event(
        "e-down",
        "cancel.requested",
        "2026-11-20T00:00:00Z",
        order={"id": "o"},
        customer={"id": "c"},
    )
    with h.client:
        warm = event("warm", "order.placed", "2026-11-19T00:00:00Z", order={"total": 1})
        assert h.post_event(warm).status_code == 200  # the key is cached now
        proxy.stop()
        down = h.post_event(body)
        assert down.status_code == 503, down.text
        assert down.json()["code"] == "unavailable"
        proxy.start()
        back = h.post_event(body)
        again = h.post_event(body)
    assert back.status_code == 200 and again.json()["run_id"] == back.json()["run_id"]
    with h.factory() as session:
        runs = session.scalar(select(func.count()).select_from(Run).where(Run.event_id == "e-down"))
        commands = session.scalar(select(func.count()).select_from(OutboxRow))
    assert (runs, commands) == (1, 0)
    h.factory.kw["bind"].dispose()
    proxy.stop()
