"""Reads for the pages from a PostgreSQL read replica (`DATABASE_REPLICA_URL`), everything else from the primary.

With `DATABASE_REPLICA_URL` set, the settings add a `replica` database alias and this router. A request takes its
reads from the replica only when all of these hold:

- it is a page's GET or HEAD (not the partner API, whose scoring reads an account's history right after writing it,
  and not `/healthz` or `/metrics`);
- the model belongs to an app whose rows may trail by the replica's lag (`REPLICA_READ_APPS`: transactions, scores,
  queues, cases, rules, search, alerts' deliveries …), never sessions, users, groups, organisations or permissions,
  which a login or a role change must see at once;
- no transaction is open on the primary (a read inside `transaction.atomic` belongs with its writes).

Writes, migrations and everything outside a page's GET go to the primary. A page may trail the primary by the
replica's lag (usually well under a second): a decision just made shows on the next page once the replica has it.
"""

from __future__ import annotations

import contextvars

from django.conf import settings
from django.db import connections

REPLICA = "replica"
# App labels whose rows pages may read from the replica.
DEFAULT_REPLICA_READ_APPS = (
    "transactions",
    "detection",
    "rules",
    "review",
    "alerts",
    "search",
    "streaming",
    "monitoring",
)
# Paths whose GETs never read from the replica.
PRIMARY_ONLY_PREFIXES = ("/api/", "/healthz", "/metrics", "/accounts/", "/admin/")

_replica_reads = contextvars.ContextVar("replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """Routes a page's reads of lag-tolerant models to the replica while `replica_reads()` is on."""

    def db_for_read(self, model, **hints):
        if not _replica_reads.get() or not replica_configured():
            return None
        if model._meta.app_label not in getattr(settings, "REPLICA_READ_APPS", DEFAULT_REPLICA_READ_APPS):
            return None
        if connections["default"].in_atomic_block:
            return None
        return REPLICA

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's rows: objects from either relate

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA


class ReplicaReadsMiddleware:
    """Turns the replica's reads on for the length of a page's GET or HEAD (a no-op without a replica)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured() or not is_replica_request(request.method, request.path_info):
            return self.get_response(request)
        token = _replica_reads.set(True)
        try:
            return self.get_response(request)
        finally:
            _replica_reads.reset(token)


def is_replica_request(method: str, path: str) -> bool:
    return method in ("GET", "HEAD") and not path.startswith(PRIMARY_ONLY_PREFIXES)
