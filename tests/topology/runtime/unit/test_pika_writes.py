"""pika's buffered frames are joined into one write; the bytes and their order stay the same."""

from __future__ import annotations

import contextlib
import socket
from collections import deque

from pika.adapters.utils import io_services_utils

from topology.runtime import pika_writes


class Transport:
    """Holds what pika's `_produce` reads: the buffered chunks and their byte count."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._tx_buffers = deque(chunks)
        self._tx_buffered_byte_count = sum(len(c) for c in chunks)


def test_waiting_frames_go_out_in_one_send_in_order():
    sent: list[bytes] = []

    def produce(transport: Transport) -> None:  # pika's loop: one send per buffered chunk
        while transport._tx_buffers:
            sent.append(transport._tx_buffers.popleft())

    frames = [b"method", b"header", b"body", b"ack"]
    pika_writes._joining(produce)(Transport(frames))
    assert sent == [b"".join(frames)]


def test_a_burst_over_the_cap_is_split_and_nothing_is_lost(monkeypatch):
    monkeypatch.setattr(pika_writes, "MAX_JOIN_BYTES", 10)
    sent: list[bytes] = []

    def produce(transport: Transport) -> None:
        while transport._tx_buffers:
            sent.append(transport._tx_buffers.popleft())

    frames = [b"aaaaaa", b"bbbbbb", b"cc", b"dd"]
    pika_writes._joining(produce)(Transport(frames))
    assert sent[0] == b"aaaaaabbbbbb" and b"".join(sent) == b"".join(frames)


def test_patched_once_and_pikas_own_partial_sends_still_work():
    assert pika_writes.coalesce() and pika_writes.coalesce()
    produce = io_services_utils._AsyncTransportBase._produce
    assert produce.__flowyard_joined__ and not getattr(produce.__wrapped__, "__flowyard_joined__", False)
    # pika's own loop on a real socket whose buffer fills: the rest stays queued, in order.
    left, right = socket.socketpair()
    left.setblocking(False)
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport = Transport([b"x" * 300_000, b"y" * 10])
    transport._sock = left
    transport._sigint_safe_send = io_services_utils._AsyncTransportBase._sigint_safe_send  # type: ignore[attr-defined]
    with contextlib.suppress(BlockingIOError):  # pika's writable handler waits for the next writable event here
        produce(transport)
    received = b""
    right.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            received += right.recv(1 << 20)
    rest = b"".join(transport._tx_buffers)
    assert received + rest == b"x" * 300_000 + b"y" * 10
    assert transport._tx_buffered_byte_count == len(rest)
    left.close()
    right.close()
