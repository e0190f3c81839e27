"""`python manage.py engine`: run the runtime engine (and, by default, a recorder) until SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

log = logging.getLogger("flowyard.engine")

# SIGTERM lets in-flight inputs finish (the engine drains for up to 10 s); past this the process exits anyway,
# whatever its connection is doing: unacked inputs go back to their queues, so stopping hard loses nothing.
GRACE_SECONDS = float(os.environ.get("FLOWYARD_ENGINE_GRACE_SECONDS", "15"))


class Command(BaseCommand):
    help = "Consume enabled topology versions' node queues and run their nodes (see topology/runtime/README.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--topology", help="only consume the queues of topologies with this name")
        parser.add_argument("--node", help="only consume the queues of nodes with this key")
        parser.add_argument("--no-recorder", action="store_true", help="do not record progress in this process")
        parser.add_argument("--recorder-only", action="store_true", help="only record progress, run no nodes")

    def handle(self, *args: Any, **options: Any) -> None:
        target: Any
        if options["recorder_only"]:
            from topology.runtime.recorder import Recorder

            target = Recorder()
        else:
            from topology.runtime.engine import Engine

            target = Engine(topology=options["topology"], node=options["node"], recorder=not options["no_recorder"])
        armed = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            target.stop()
            if not armed.is_set():
                armed.set()
                watchdog = threading.Timer(GRACE_SECONDS, _hard_exit, args=(signum,))
                watchdog.daemon = True
                watchdog.start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        target.run()


def _hard_exit(signum: int) -> None:
    log.error("still running %.0f s after signal %d: exiting without a clean close", GRACE_SECONDS, signum)
    logging.shutdown()
    os._exit(1)
