"""System checks of detection's settings."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def bench_endpoints_off(app_configs, **kwargs) -> list[Warning]:
    """The benchmarks' floor endpoints store rows no model scored: a deployment must not route them."""
    if settings.BENCH_ENDPOINTS:
        return [
            Warning(
                "BENCH_ENDPOINTS is on: /api/v1/bench/floor/ stores transactions with made-up scores.",
                hint="Unset BENCH_ENDPOINTS; only the benchmarks in bench/ set it.",
                id="detection.W001",
            )
        ]
    return []
