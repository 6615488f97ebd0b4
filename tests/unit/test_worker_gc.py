"""shared.worker.tune_gc: a worker's start-up objects frozen, the young generation collected less often."""

from __future__ import annotations

import gc

from shared.worker import tune_gc


def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        tune_gc()
        assert gc.get_freeze_count() > 1000  # the modules and objects alive at start-up
        assert gc.get_threshold() == (10_000, 50, 100)
        garbage = []
        garbage.append(garbage)  # a cycle made after start-up is still collected
        del garbage
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
