"""A worker tunes Python's cyclic collector when it starts (shared.worker.run_forever -> tune_gc): what
exists at start-up is frozen out of the collector's sight, a message's short-lived objects no longer set
off a young collection every 700 allocations, and cycles made after start-up are still collected.

Each case runs in a process of its own (the collector's state is process-wide), as a worker runs: the
probe is one of the worker's loops, and it stops the worker with SIGTERM as an operator would."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import gc, json, os, signal, sys
    marker = [["made before the worker starts"]]  # a container the collector tracks

    def probe(stop):
        young = []
        gc.callbacks.append(lambda phase, info: phase == "start" and info["generation"] == 0 and young.append(1))
        for _ in range(5000):  # what handling messages allocates: short-lived containers, some in cycles
            cycle = []
            cycle.append(cycle)
        del cycle
        print(json.dumps({"young_collections": len(young),
                          "start_up_object_examined": any(o is marker for o in gc.get_objects()),
                          "cycles_collected": gc.collect()}), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        stop.wait(10)

    if sys.argv[1] == "worker":
        from shared.worker import run_forever
        run_forever([("probe", probe)])
    else:  # the same work in a plain process: what the worker's tuning changes
        import threading
        probe(threading.Event())
""")


def run(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if mode == "plain":
        assert done.returncode == -15, done.stderr  # it signalled itself, nothing handles SIGTERM
    else:
        assert done.returncode == 0, done.stderr  # the worker stopped cleanly on SIGTERM
    return json.loads(done.stdout.splitlines()[0])


def test_a_worker_freezes_its_start_up_objects_and_collects_young_objects_less_often():
    plain, worker = run("plain"), run("worker")
    # without the tuning the same allocations set off young collections and every object is examined
    assert plain["young_collections"] >= 5 and plain["start_up_object_examined"] is True
    assert worker["young_collections"] == 0
    assert worker["start_up_object_examined"] is False
    assert worker["cycles_collected"] >= 5000  # garbage made after start-up is still collected
