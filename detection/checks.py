"""System checks of detection's settings."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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


@register()
def retrain_promote_metric_known(app_configs, **kwargs) -> list[Error]:
    """The scheduled retraining's deciding metric must be one it computes, or every retraining would fail."""
    from detection.training.proof import METRICS

    if settings.RETRAIN_PROMOTE_METRIC not in METRICS:
        return [
            Error(
                f"RETRAIN_PROMOTE_METRIC is {settings.RETRAIN_PROMOTE_METRIC!r}.",
                hint=f"Set it to one of {', '.join(METRICS)}.",
                id="detection.E001",
            )
        ]
    return []
