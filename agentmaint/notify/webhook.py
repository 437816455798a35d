"""The generic webhook channel: a signed JSON ``POST``, and the HTTP transport.

The document is `RunResult.to_dict` plus the event and the summary; with a
channel ``secret``, ``X-Agentmaint-Signature`` carries its HMAC-SHA256. Slack's
incoming webhooks are posted the same way (`_post_json`).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import urllib.request
from typing import Any

from agentmaint.notify.deadline import Abort, shutdown
from agentmaint.run.results import RunResult

__all__ = ["EVENT_HEADER", "HTTP_TIMEOUT", "SIGNATURE_HEADER", "sign", "webhook_payload"]

#: Seconds one socket operation of an HTTP delivery may take (the whole attempt is
#: bounded by `agentmaint.notify.deadline.ATTEMPT_DEADLINE`).
HTTP_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Agentmaint-Signature"
EVENT_HEADER = "X-Agentmaint-Event"


def webhook_payload(result: RunResult, summary: dict[str, Any]) -> dict[str, Any]:
    """The generic webhook's JSON document: `RunResult.to_dict()` plus event and summary."""
    return {**result.to_dict(), "event": summary["event"], "summary": summary}


def sign(body: bytes, key: str) -> str:
    """The ``X-Agentmaint-Signature`` value of `body`: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _post_json(
    url: str, body: bytes, headers: dict[str, str], abort: Abort, timeout: float
) -> None:
    """POST `body`; every connection made is registered with `abort` to be cut short."""

    def connection(host: str, **options: Any) -> http.client.HTTPConnection:
        made = http.client.HTTPConnection(host, **options)
        abort.on_abort(lambda: shutdown(made.sock))
        return made

    def tls_connection(host: str, **options: Any) -> http.client.HTTPSConnection:
        made = http.client.HTTPSConnection(host, **options)
        abort.on_abort(lambda: shutdown(made.sock))
        return made

    class _Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(connection, req)

    class _Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(tls_connection, req)

    # Our handlers replace urllib's defaults; proxies and redirects work as before.
    opener = urllib.request.build_opener(_Http, _Https)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with opener.open(request, timeout=min(timeout, HTTP_TIMEOUT)) as response:
        response.read()
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")
