from django.core.cache import cache
from django.db import connection


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return {"ok": False, "error": type(exc).__name__}


def _check_redis() -> dict:
    try:
        cache.set("healthz", "1", 5)
        return {"ok": cache.get("healthz") == "1"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def _check_model() -> dict:
    """Every organisation's active version loads in this process (an artifact this release cannot read is not a
    working model); not ok while no organisation has one."""
    from detection.models import ModelVersion
    from detection.scoring import registry

    try:
        active = list(
            ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE)
            .order_by("organisation_id")
            .values("organisation_id", "version")
        )
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}
    if not active:
        return {"ok": False, "error": "no active model version"}
    # Anyone may ask: the answer counts organisations and never names one.
    report = {"ok": True, "organisations": len(active)}
    if len(active) == 1:
        report["version"] = active[0]["version"]
    for row in active:
        try:  # this process's copy, loaded if it has none
            registry.active_model(organisation_id=row["organisation_id"])
        except registry.NoActiveModel as exc:
            return report | {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001
            return report | {"ok": False, "error": type(exc).__name__}
    return report


def _check_streaming() -> dict:
    """Each streaming consumer's lag, rate and errors, from its reports in Redis (streaming/selectors.py)."""
    from streaming.selectors import consumers_health

    try:
        return consumers_health()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def health_checks() -> dict[str, dict]:
    return {
        "database": _check_database(),
        "redis": _check_redis(),
        "model": _check_model(),
        "streaming": _check_streaming(),
    }
