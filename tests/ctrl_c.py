"""Helpers for the tests that press Ctrl-C on a child process (imported, not collected)."""

from __future__ import annotations

import signal
from pathlib import Path


def shell_sigint() -> None:
    """A child that a test will Ctrl-C gets SIGINT as a shell leaves it: the default action and
    not blocked. Both are inherited, and a library in the test process may have changed
    either (a sweep started with SIGINT ignored or blocked never sees the Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def signal_state(pid: int | str) -> str:
    """The kernel's view of a process's signals (blocked, ignored, caught), for a failure."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return " ".join(line for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt")))
