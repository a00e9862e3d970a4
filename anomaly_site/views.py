from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET


@require_GET
def home(request):
    return redirect("review:queue")


@require_GET
def healthz(request):
    """PostgreSQL, Redis and the active model: 200 when all answer, 503 naming what does not."""
    from anomaly_site.health import health_checks

    checks = health_checks()
    ok = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", "checks": checks}, status=200 if ok else 503)
