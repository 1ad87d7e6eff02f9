"""The supervision loop eval and collect share: jobs that become ready while others run (cells still
training) are handed out once ready and never before, and the loop ends only when no more can come."""

from __future__ import annotations

import threading

from eval.process_pool import supervise, watch_parent


def square_worker(conn, parent_pid: int) -> None:
    watch_parent(parent_pid)
    conn.send(("ready", 0))
    while (job := conn.recv()) is not None:
        conn.send(("result", job * job))


def test_jobs_released_later_run_once_ready_and_the_loop_waits_for_them():
    lock = threading.Lock()
    released: list[int] = []
    handed: list[int] = []
    results: dict[int, int] = {}
    producing = threading.Event()
    producing.set()

    def release_later() -> None:
        for job in range(4):  # each job released only after the one before has come back
            with lock:
                released.append(job)
            while job not in results:
                threading.Event().wait(0.01)
        producing.clear()

    def next_job() -> int | None:  # None while nothing released is waiting: not the end of the jobs
        with lock:
            waiting = [j for j in released if j not in handed]
            if waiting:
                handed.append(waiting[0])
                return waiting[0]
        return None

    producer = threading.Thread(target=release_later)
    producer.start()
    supervise(
        what="test",
        target=square_worker,
        args=(),
        workers=2,
        next_job=next_job,
        message=lambda job: job,
        on_result=lambda job, payload, _s: results.__setitem__(job, payload),
        on_lost=lambda job, why, _s: False,
        more=producing.is_set,
    )
    producer.join(timeout=60)
    assert results == {0: 0, 1: 1, 2: 4, 3: 9}  # nothing lost though next_job said None in between
    assert handed == [0, 1, 2, 3]


def test_without_more_the_loop_ends_when_no_job_is_ready():
    results: dict[int, int] = {}
    supervise(
        what="test",
        target=square_worker,
        args=(),
        workers=1,
        next_job=lambda: None,
        message=lambda job: job,
        on_result=lambda job, payload, _s: results.__setitem__(job, payload),
        on_lost=lambda job, why, _s: False,
    )
    assert results == {}
