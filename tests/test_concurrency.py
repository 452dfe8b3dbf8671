"""Running blocking work off the gevent event loop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from declaration.concurrency import let_ready_work_run, off_loop, start_pools, wait_off_loop


def test_without_gevent_the_work_runs_inline():
    assert off_loop(threading.get_native_id) == threading.get_native_id()
    assert off_loop(divmod, 7, 2) == (3, 1)
    assert wait_off_loop(threading.get_native_id) == threading.get_native_id()
    assert start_pools() == 0  # no threads are started for nothing


def test_on_gevent_the_work_runs_in_another_thread_while_the_loop_goes_on():
    """A server process: patched by gevent, a greenlet ticks while the work computes."""
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import threading, time, gevent
        from declaration.concurrency import off_loop

        def busy():
            end = time.perf_counter() + 0.3
            while time.perf_counter() < end:
                pass
            return threading.get_native_id()

        ticks = []
        ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(100)])
        gevent.sleep(0)
        worker = off_loop(busy)
        ticked = len(ticks)
        ticker.kill()
        try:
            off_loop(int, "x")
        except ValueError:
            raised = True
        else:
            raised = False
        print(worker != threading.get_native_id(), ticked, raised)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    other_thread, ticked, raised = done.stdout.split()
    assert other_thread == "True"
    assert int(ticked) >= 5  # the loop kept running during the 0.3 s of work
    assert raised == "True"  # errors come back to the caller


def test_on_gevent_disk_waits_have_their_own_threads_started_with_the_server():
    """A long comparison must not hold up a commit; threads exist before the first one."""
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import threading, time, gevent
        from declaration.concurrency import (
            COMPUTE_THREADS, DISK_THREADS, off_loop, start_pools, wait_off_loop)

        before = threading.active_count()
        started = start_pools()
        native = len(__import__("os").listdir("/proc/self/task"))

        def busy():
            end = time.perf_counter() + 0.5
            while time.perf_counter() < end:
                pass

        long_work = [gevent.spawn(off_loop, busy) for _ in range(COMPUTE_THREADS)]
        gevent.sleep(0.05)
        began = time.perf_counter()
        worker = wait_off_loop(threading.get_native_id)
        waited = time.perf_counter() - began
        gevent.joinall(long_work, raise_error=True)
        print(started == COMPUTE_THREADS + DISK_THREADS, native - 1 >= started,
              worker != threading.get_native_id(), round(waited, 2))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    counted, threads_exist, other_thread, waited = done.stdout.split()
    assert counted == "True" and threads_exist == "True" and other_thread == "True"
    # Not queued behind the two half-second computations (GIL hand-offs take a few ms).
    assert float(waited) < 0.3


def test_without_gevent_giving_way_to_ready_work_returns_at_once():
    began = time.monotonic()
    let_ready_work_run(30.0)
    assert time.monotonic() - began < 10.0  # nothing to give way to: not the limit


def test_on_gevent_ready_work_runs_first_and_a_loop_never_idle_is_left_at_the_limit():
    """Data already on a socket is read and woken greenlets run before the caller goes on;
    a loop that always has more to do holds the caller up to the limit, not longer."""
    script = textwrap.dedent(
        """
        from gevent import monkey
        monkey.patch_all()
        import socket, time, gevent
        from declaration.concurrency import let_ready_work_run

        near, far = socket.socketpair()
        received, ran = [], []
        gevent.spawn(lambda: received.append(far.recv(16)))
        gevent.sleep(0.01)  # the reader now waits for data
        near.sendall(b"edit")
        gevent.spawn(ran.append, True)
        let_ready_work_run(5.0)
        ready_first = received == [b"edit"] and ran == [True]

        def ping(sock):
            while True:
                sock.sendall(b"x")
                sock.recv(1)

        def pong(sock):
            while True:
                sock.sendall(sock.recv(1))

        # A ping-pong between two greenlets never lets the loop run out of events.
        one, two = socket.socketpair()
        busy = [gevent.spawn(pong, two), gevent.spawn(ping, one)]
        gevent.sleep(0.01)
        began = time.perf_counter()
        let_ready_work_run(0.2)
        held = time.perf_counter() - began
        gevent.killall(busy)
        print(ready_first, round(held, 3))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    ready_first, held = done.stdout.split()
    assert ready_first == "True"
    assert 0.15 <= float(held) < 5.0  # left at the limit (0.2 s), give or take a busy machine


def test_difference_of_versions_is_computed_through_it(monkeypatch):
    from declaration.services import drafts

    texts = ("a b", "a c")
    calls = []

    def recording(function, *arguments):
        calls.append(function.__name__)
        return function(*arguments)

    monkeypatch.setattr(drafts, "off_loop", recording)
    monkeypatch.setattr(drafts, "text_at", lambda session, declaration, n: texts[n])
    segments = drafts.difference(None, None, 0, 1)  # type: ignore[arg-type]
    assert calls == ["compare"]
    assert "".join(s.text for s in segments if s.kind != "delete") == "a c"
