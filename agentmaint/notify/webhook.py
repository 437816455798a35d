"""The generic webhook channel: a signed JSON ``POST``, and the HTTP transport.

The document is `RunResult.to_dict` plus the event and the summary; with a
channel ``secret``, ``X-Agentmaint-Signature`` carries its HMAC-SHA256. Slack's
incoming webhooks are posted the same way (`_post_json`).
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.request
from typing import Any

from agentmaint.run.results import RunResult

__all__ = ["EVENT_HEADER", "HTTP_TIMEOUT", "SIGNATURE_HEADER", "sign", "webhook_payload"]

#: Seconds an HTTP delivery may take.
HTTP_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Agentmaint-Signature"
EVENT_HEADER = "X-Agentmaint-Event"


def webhook_payload(result: RunResult, summary: dict[str, Any]) -> dict[str, Any]:
    """The generic webhook's JSON document: `RunResult.to_dict()` plus event and summary."""
    return {**result.to_dict(), "event": summary["event"], "summary": summary}


def sign(body: bytes, key: str) -> str:
    """The ``X-Agentmaint-Signature`` value of `body`: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")
