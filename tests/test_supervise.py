"""admin_ui.supervise: a crashed process is started again; SIGTERM reaches it and ends the supervisor."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from admin_ui.supervise import pause_seconds


def test_pauses_grow_and_cap():
    assert [pause_seconds(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert pause_seconds(50) == 30


def test_crashing_child_is_restarted_and_sigterm_stops_everything(tmp_path):
    starts = tmp_path / "starts"
    child = (
        "import pathlib, signal, sys, time\n"
        f"p = pathlib.Path({str(starts)!r}); p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "if len(p.read_text()) < 3: sys.exit(7)\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-m", "admin_ui.supervise", sys.executable, "-c", child])
    deadline = time.monotonic() + 30
    while not (starts.exists() and len(starts.read_text()) >= 3):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)  # the third child is now sleeping
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert starts.read_text() == "xxx"
