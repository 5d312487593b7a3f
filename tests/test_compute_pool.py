"""The compute pool: parts run on every core, and a part may split its own work."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from movingcolor import compute_pool
from movingcolor.compute_pool import map_parts, usable_cores


def test_parts_give_their_results_in_order():
    assert map_parts(lambda x: x * x, list(range(10))) == [x * x for x in range(10)]


def test_a_part_that_splits_its_own_work_runs_those_parts_itself():
    """Every pool thread busy with a part that maps parts of its own: handed to the pool, those
    would wait for threads that wait for them."""
    outer_threads = set()

    def outer(n: int) -> list[int]:
        outer_threads.add(threading.current_thread().name)
        inner_threads = set()

        def inner(k: int) -> int:
            inner_threads.add(threading.current_thread().name)
            return n * 100 + k

        values = map_parts(inner, list(range(5)))
        assert inner_threads == {threading.current_thread().name}
        return values

    parts = list(range(2 * max(2, usable_cores())))
    with ThreadPoolExecutor(1) as watchdog:
        done = watchdog.submit(map_parts, outer, parts)
        assert done.result(timeout=60) == [[n * 100 + k for k in range(5)] for n in parts]
    if usable_cores() > 1:
        assert all(name.startswith("compute") for name in outer_threads)


def test_threads_asking_first_at_once_share_one_pool():
    """Two jobs of a server starting their first array work at once get the same pool, not one
    each (twice the cores' threads on the cores)."""
    kept = list(compute_pool._made)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(50):
            compute_pool._made.clear()
            start = threading.Barrier(6)
            pools: list = []

            def ask(start=start, pools=pools):
                start.wait()
                pools.append(compute_pool._pool())

            threads = [threading.Thread(target=ask) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len({id(pool) for pool in pools}) == 1
            pools[0].shutdown()
    finally:
        sys.setswitchinterval(interval)
        compute_pool._made[:] = kept
