"""The lab ends processes by pidfd: a signal reaches the process it was meant for, never one
that was given its number back (rs_lab.netns.end_pids, live)."""

from __future__ import annotations

import subprocess
import sys
import time

from rs_lab.netns import end_pids, live

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " \
               "print('ready', flush=True); time.sleep(60)"


def test_term_ends_a_process_and_kill_one_that_ignores_term() -> None:
    polite = subprocess.Popen(["sleep", "60"])
    stubborn = subprocess.Popen([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE)
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        started = time.monotonic()
        end_pids([polite.pid, stubborn.pid], grace=0.5)
        assert polite.wait(timeout=5) == -15   # SIGTERM
        assert stubborn.wait(timeout=5) == -9  # SIGKILL after the grace
        assert time.monotonic() - started < 5
    finally:
        for proc in (polite, stubborn):
            if proc.returncode is None:
                proc.kill()
                proc.wait()
        if stubborn.stdout is not None:
            stubborn.stdout.close()


def test_a_waited_for_child_is_not_signalled_again() -> None:
    done = subprocess.Popen(["true"])
    done.wait()
    running = subprocess.Popen(["sleep", "60"])
    try:
        assert live([done, running]) == [running.pid]
        end_pids(live([done, running]), grace=1)
        assert running.wait(timeout=5) == -15
    finally:
        if running.returncode is None:
            running.kill()
            running.wait()

