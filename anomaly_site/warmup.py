"""Start-up of a serving process: load the active model and the engine's compiled loops before the first request, then
keep the garbage collector away from everything loaded so far (Django, numpy, torch, the model), which would otherwise
be traversed again on every full collection and show up as latency spikes."""

import contextlib
import gc
import logging

logger = logging.getLogger(__name__)


def warm_up_serving_process() -> None:
    from detection.engine import kernels
    from detection.scoring import registry

    kernels.warm_up()  # compiled, or read from numba's cache: not in the first request's time

    try:
        from detection.models import ModelVersion

        active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list(
            "organisation_id", flat=True
        )
        for organisation_id in list(active):
            # An unloadable version: the registry has logged which one and why.
            with contextlib.suppress(registry.ModelUnloadable):
                registry.active_model(organisation_id=organisation_id)
        if not active:
            logger.info("no active model version yet; it will be loaded when one is activated")
    except Exception:  # noqa: BLE001 - start-up must not fail because the database is not ready yet
        logger.warning("could not load the active models at start-up", exc_info=True)
    gc.collect()
    gc.freeze()
