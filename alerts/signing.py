"""HMAC-SHA256 webhook signatures: `X-Sentinel-Signature: v1=<hex HMAC(secret, "<timestamp>.<body>")>`."""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Sentinel-Signature"
TIMESTAMP_HEADER = "X-Sentinel-Timestamp"
DELIVERY_HEADER = "X-Sentinel-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_headers(*, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_compute(secret=secret, timestamp=timestamp, body=body),
    }


def signature_verify(
    *, secret: str, timestamp: str, signature: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: the timestamp is recent (no replays) and the signature matches the exact body."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    return hmac.compare_digest(signature_compute(secret=secret, timestamp=ts, body=body), signature)
