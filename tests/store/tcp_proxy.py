"""A TCP proxy on loopback that a test can cut and restore: a database "down" for a while.

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+psycopg://u:p@127.0.0.1:{proxy.port}/db"
        proxy.cut()       # every open connection is closed; new ones are closed at once
        proxy.restore()   # new connections reach the server again

While cut, the listening socket stays open (the port is not given away) and every connection
it accepts is closed at once, as a server that is restarting would answer.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._up = True
        self._closing = False
        self.cuts = 0

    def __enter__(self) -> TcpProxy:
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing = True
        self.cut()
        self._listener.close()

    def cut(self) -> None:
        with self._lock:
            self._up = False
            self.cuts += 1
            for s in self._open:
                _close(s)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            _close(src)
            _close(dst)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
