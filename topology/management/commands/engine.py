"""`python manage.py engine`: run the runtime engine (and, by default, a recorder) until SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Consume enabled topology versions' node queues and run their nodes (see topology/runtime/README.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--topology", help="only consume the queues of topologies with this name")
        parser.add_argument("--node", help="only consume the queues of nodes with this key")
        parser.add_argument("--no-recorder", action="store_true", help="do not record progress in this process")
        parser.add_argument("--recorder-only", action="store_true", help="only record progress, run no nodes")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["recorder_only"]:
            from topology.runtime.recorder import Recorder

            recorder = Recorder()
            stop = threading.Event()

            def on_signal(*_: Any) -> None:
                recorder.stop()
                stop.set()

            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            recorder.run()
            return
        from topology.runtime.engine import Engine

        Engine(topology=options["topology"], node=options["node"], recorder=not options["no_recorder"]).run()
