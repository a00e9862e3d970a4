"""One HTTP POST of a delivery, and what its failure means: a server error, a timeout or a refused connection may
pass (retry); a client error will not (fail at once), but for 408, 425 and 429."""

import urllib.error
import urllib.request

RETRYABLE_HTTP_CODES = {408, 425, 429}
USER_AGENT = "Sentinel-Alerts/1"
ERROR_BODY_CHARS = 300


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"not an http(s) URL: {url!r}", retryable=False)
    headers = {"User-Agent": USER_AGENT} | headers
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return response.status
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code in RETRYABLE_HTTP_CODES
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}{_said(exc)}", code=exc.code, retryable=retryable)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{type(exc).__name__}: {reason}")


def _said(exc: urllib.error.HTTPError) -> str:
    """The start of the service's answer: PagerDuty, Opsgenie and Twilio say there what was wrong."""
    try:
        text = exc.read(ERROR_BODY_CHARS).decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return ""
    return f": {text}" if text else ""
