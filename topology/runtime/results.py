"""Result codes a node answers with (DESIGN.md §4) and what the engine does with each."""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    OK = 0
    REPEAT = 1001  # re-deliver to the same node after repeat-interval; past repeat-max-hops -> trash
    FORWARD = 1002  # publish only to the followers named in forward-to
    STOP_OK = 1003  # branch ends successfully
    LIMITED = 1004  # re-delay by the limiter's wait
    STOP_FAIL = 1006  # trash with result-message
    BATCH_CURSOR = 1010  # emit items to followers and loop to the same node with the cursor
    BATCH_CURSOR_ONLY = 1011  # loop to the same node with the cursor, emit nothing


# Event-only codes (never answered by nodes) so the timeline shows why a run emitted nothing.
RETRY_SCHEDULED = 2001
TRASHED = 2006
TERMINATED = 2009
DELAY_HOP = 2010
CIRCUIT_OPEN = 2013  # the remote host's circuit breaker is open: the message waits for the probe
STATE_RETRY = 2011  # join state unreachable: the message comes back later
