"""Per-token rate limits for the partner API: fixed windows counted atomically in the Redis cache.

DRF's SimpleRateThrottle keeps a list of every request time per key and rewrites it on each request; at
thousands of requests a minute that list is what costs. A counter per (scope, token, window), counted by an atomic
INCR and given its expiry by EXPIRE NX in the same round trip, holds under concurrency across processes and
machines. The Redis client is made once per process (Django's cache makes a new one on every call), on the cache's
own server, key prefix and timeouts. A Redis that does not answer lets requests through (with a warning now and
then): partners' payment flows should not stop because their counter cannot be kept.
"""

import logging
import math
import os
import time

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from core.logging import warn_now_and_then

logger = logging.getLogger(__name__)
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'6000/min' → (6000, 60). The period's first letter decides: s, m, h or d."""
    count, period = rate.split("/", 1)
    return int(count), _PERIODS[period.strip()[0].lower()]


_CLIENTS: dict[tuple[int, str], redis.Redis] = {}
_TIMEOUTS = ("socket_connect_timeout", "socket_timeout")


def _client() -> redis.Redis:
    """This process's client of the cache's Redis server (a forked child makes its own)."""
    cache_settings = settings.CACHES["default"]
    key = (os.getpid(), cache_settings["LOCATION"])
    if key not in _CLIENTS:
        _CLIENTS.clear()
        options = cache_settings.get("OPTIONS", {})
        timeouts = {name: options[name] for name in _TIMEOUTS if name in options}
        _CLIENTS[key] = redis.Redis.from_url(cache_settings["LOCATION"], **timeouts)
    return _CLIENTS[key]


class TokenRateThrottle(BaseThrottle):
    """Limits each partner token (or user, or address) per scope, the rate read from settings.API_RATES."""

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", None) or getattr(view, "required_scope", None)
        rate = settings.API_RATES.get(scope) if scope else None
        if not rate:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        key = f"throttle:{scope}:{self._ident(request)}:{period}:{window}"
        pipe = _client().pipeline(transaction=False)
        pipe.incr(cache.make_and_validate_key(key))
        pipe.expire(cache.make_and_validate_key(key), period + 1, nx=True)
        try:
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            warn_now_and_then(logger, "throttle", "rate limits are off while Redis does not answer: %s", exc)
            return True
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return max(1, math.ceil(self._wait))

    def _ident(self, request) -> str:
        credential = getattr(request.auth, "throttle_key", None)  # a partner token names its own counter
        if credential:
            return credential
        if request.user and request.user.is_authenticated and request.user.pk is not None:
            return f"user-{request.user.pk}"
        return f"addr-{self.get_ident(request)}"
