"""Start-up of a serving process: load the active model and the engine's compiled loops before the first request, then
keep the garbage collector away from everything loaded so far (Django, numpy, torch, the model), which would otherwise
be traversed again on every full collection and show up as latency spikes."""

import gc
import logging

logger = logging.getLogger(__name__)


def warm_up_serving_process() -> None:
    from detection.engine import kernels
    from detection.scoring import registry

    kernels.warm_up()  # compiled, or read from numba's cache: not in the first request's time

    try:
        registry.active_model()
    except registry.ModelUnloadable:
        pass  # the registry has logged which version and why
    except registry.NoActiveModel:
        logger.info("no active model version yet; it will be loaded when one is activated")
    except Exception:  # noqa: BLE001 - start-up must not fail because the database is not ready yet
        logger.warning("could not load the active model at start-up", exc_info=True)
    gc.collect()
    gc.freeze()
