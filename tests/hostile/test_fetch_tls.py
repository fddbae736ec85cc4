"""Connecting to the vetted IP must not weaken TLS: SNI, Host and the certificate check stay
on the hostname in the URL, never on the address we pinned the connection to.

A real HTTPS server on loopback with a certificate from a throwaway CA (trustme); the fake
resolver sends feeds.example to 127.0.0.1, which trusted_networks lets play a public site.
"""

import http.server
import ipaddress
import ssl
import threading

import pytest
import trustme

from digest.errors import SourceError
from digest.sources import Fetcher

BODY = b"- 07:30Une nouvelle\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hosts.append(self.headers.get("Host"))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def https_server(ca, name):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.hosts, httpd.sni = [], []
    context.sni_callback = lambda sock, server_name, ctx: httpd.sni.append(server_name)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def fetcher(ca):
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return Fetcher(
        "t",
        ssl_context=client,
        resolver=lambda host, port: ["127.0.0.1"],
        trusted_networks=[ipaddress.ip_network("127.0.0.1/32")],
    )


def test_pinned_connection_keeps_sni_host_and_verification_on_the_name(ca):
    httpd = https_server(ca, "feeds.example")
    port = httpd.server_address[1]
    try:
        got = fetcher(ca).fetch(f"https://feeds.example:{port}/dump.txt", timeout=5, max_bytes=1000)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert got.body == BODY
    assert httpd.sni == ["feeds.example"] and httpd.hosts == [f"feeds.example:{port}"]


def test_a_certificate_for_another_name_is_still_refused(ca):
    """Attack: the pinned IP answers with a valid certificate, but for a different name."""
    httpd = https_server(ca, "other.example")
    port = httpd.server_address[1]
    try:
        with pytest.raises(
            SourceError, match="could not be fetched: ConnectError: .*CERTIFICATE_VERIFY_FAILED"
        ):
            fetcher(ca).fetch(f"https://feeds.example:{port}/dump.txt", timeout=5, max_bytes=1000)
    finally:
        httpd.shutdown()
        httpd.server_close()
