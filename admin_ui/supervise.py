"""`python -m admin_ui.supervise CMD...`: run CMD and start it again whenever it exits, until told to stop.

honcho (`make run`) stops every process as soon as one exits, so an engine killed by the kernel's OOM killer would
take the web server, the recorder and Celery down with it. Each Procfile line runs its process under this loop
instead: a crash restarts that process alone (after a growing pause, back to 1 s after a minute of uptime).
SIGTERM/SIGINT go to the child; once it has exited the supervisor exits with its status, so honcho, systemd or a
container runtime still stop everything cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

HEALTHY_SECONDS = 60.0
MAX_PAUSE_SECONDS = float(os.environ.get("FLOWYARD_SUPERVISE_MAX_PAUSE", "30"))


def pause_seconds(crashes: int) -> float:
    """Pause before restart number `crashes` (1-based): 1, 2, 4 ... capped at 30 s."""
    return float(min(MAX_PAUSE_SECONDS, 2 ** max(crashes - 1, 0)))


def supervise(command: list[str]) -> int:
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: Any) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    crashes = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        if stopping.is_set():  # the signal came while the child was starting
            child.terminate()
        code = child.wait()
        if stopping.is_set():
            return code
        crashes = 1 if time.monotonic() - started > HEALTHY_SECONDS else crashes + 1
        pause = pause_seconds(crashes)
        sys.stderr.write(f"supervise: {command[0]} exited with {code}; restarting in {pause:.0f} s (crash {crashes})\n")
        sys.stderr.flush()
        if stopping.wait(pause):
            return code


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m admin_ui.supervise COMMAND [ARGS...]")
    sys.exit(supervise(sys.argv[1:]))
