"""The time a training container has between SIGTERM and its end: one home for the stack and the trainer.

EC2 announces a Spot reclaim two minutes ahead. The stack's host watcher polls for the notice every
``NOTICE_POLL_S`` seconds and then sends SIGTERM to the job containers; the ECS agent gives a cancelled
or timed-out job the same two minutes before SIGKILL (``ECS_CONTAINER_STOP_TIMEOUT``). The trainer
counts its stop budget from the signal and keeps a margin for the watcher's poll, the process exit and
the container's teardown, so the checkpoint is uploaded before the instance or the agent ends it.
"""

from __future__ import annotations

SPOT_NOTICE_S = 120  # EC2: the instance is reclaimed two minutes after spot/instance-action appears
NOTICE_POLL_S = 5
CONTAINER_STOP_TIMEOUT_S = SPOT_NOTICE_S
STOP_MARGIN_S = 15
STOP_BUDGET_S = SPOT_NOTICE_S - NOTICE_POLL_S - STOP_MARGIN_S  # 100 s from SIGTERM to a flushed checkpoint
# 128 + SIGTERM: the trainer's exit after a stop it honoured; the job definitions retry it.
EXIT_STOPPED = 143
