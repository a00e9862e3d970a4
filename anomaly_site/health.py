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
    from detection.models import ModelVersion

    try:
        active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values("version").first()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}
    if active is None:
        return {"ok": False, "error": "no active model version"}
    from detection.scoring import registry

    try:  # this process's copy, loaded if it has none: an artifact this release cannot read is not a working model
        registry.active_model()
    except registry.NoActiveModel as exc:
        return {"ok": False, "version": active["version"], "error": str(exc)}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "version": active["version"], "error": type(exc).__name__}
    return {"ok": True, "version": active["version"]}


def health_checks() -> dict[str, dict]:
    return {"database": _check_database(), "redis": _check_redis(), "model": _check_model()}
