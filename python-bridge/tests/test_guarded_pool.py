"""GuardedPool: a worker stopped with SIGSTOP mid-call is killed once the call is past its
timeout and the worker has stopped moving; the call ends as a timeout, and the pool goes on
with a fresh worker. A worker that is slow but working is left alone. (The workers run stdlib
functions: they cannot import this test module.)"""

from __future__ import annotations

import os
import signal
import time

from colt_bridge.measure.guarded import GuardedPool, cpu_ticks


def test_a_stopped_worker_is_killed_and_the_call_times_out():
    pool = GuardedPool(max_workers=1, timeout=1, grace_sec=1, check_every_sec=0.5)
    try:
        # The worker, started by a first call; then stopped before the next call reaches it, so
        # that its own timer never starts: only the guard can end that call.
        worker = pool.submit(os.getpid).result(timeout=300)
        os.kill(worker, signal.SIGSTOP)
        future = pool.submit(time.sleep, 60)
        try:
            future.result(timeout=300)  # only catches a hang: the guard ends it long before
            raise AssertionError("a stopped worker's call returned a result")
        except TimeoutError as err:
            assert "stopped answering" in str(err)
        assert pool.kills == 1
        assert cpu_ticks(worker) is None  # killed and reaped
        # The next call runs on a fresh worker.
        again = pool.submit(os.getpid).result(timeout=300)
        assert again not in (worker, os.getpid())
    finally:
        pool.shutdown()


def test_a_working_worker_past_its_deadline_is_left_to_its_own_timer():
    # The guard's deadline (timeout + grace) half a second in, the worker's own timer a minute:
    # the guard looks many times past its deadline and must leave a worker that keeps working.
    pool = GuardedPool(max_workers=1, timeout=60, grace_sec=-59.5, check_every_sec=1.0)
    try:
        # Seconds of CPU: several looks of the guard past the deadline, each seeing progress.
        result = pool.submit(sum, range(150_000_000)).result(timeout=300)
        assert result == sum(range(150_000_000))
        assert pool.kills == 0
    finally:
        pool.shutdown()
