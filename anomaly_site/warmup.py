"""Start-up of a serving process: load the active model and the engine's compiled loops before the first request, then
keep the garbage collector away from everything loaded so far (Django, numpy, torch, the model), which would otherwise
be traversed again on every full collection and show up as latency spikes."""

import asyncio
import contextlib
import gc
import logging
import threading

logger = logging.getLogger(__name__)


def warm_up_serving_process() -> None:
    from detection.engine import kernels

    kernels.warm_up()  # compiled, or read from numba's cache: not in the first request's time
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _load_active_models()
    else:
        # Imported inside a running event loop (uvicorn's own process manager, granian): the ORM refuses to run there,
        # so the models are read on a thread of their own, start-up waiting for it.
        loader = threading.Thread(target=_load_active_models, name="warm-up")
        loader.start()
        loader.join()
    gc.collect()
    gc.freeze()


def _load_active_models() -> None:
    from django.db import connections

    from detection.models import ModelVersion
    from detection.scoring import registry

    try:
        active = list(
            ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list("organisation_id", flat=True)
        )
        for organisation_id in active:
            # An unloadable version: the registry has logged which one and why.
            with contextlib.suppress(registry.ModelUnloadable):
                registry.active_model(organisation_id=organisation_id)
        if not active:
            logger.info("no active model version yet; it will be loaded when one is activated")
    except Exception:  # noqa: BLE001 - start-up must not fail because the database is not ready yet
        logger.warning("could not load the active models at start-up", exc_info=True)
    finally:
        if threading.current_thread() is not threading.main_thread():
            connections.close_all()
