"""Kaggle's status words, one enum each, shared by the Kaggle layer, the kernel workflow and the emulator.

They are `str` enums so that they compare equal to the wire's strings (`KernelStatus.COMPLETE == "COMPLETE"`) and
serialise as those strings; the values are the ones the official client prints.

Example:
    >>> KernelStatus("COMPLETE").finished
    True
    >>> SubmissionStatus.PENDING.finished
    False
"""

from __future__ import annotations

from enum import Enum


class KernelStatus(str, Enum):
    """A kernel session's status (kagglesdk `KernelWorkerStatus`)."""

    QUEUED = "QUEUED"
    NEW_SCRIPT = "NEW_SCRIPT"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCEL_ACKNOWLEDGED = "CANCEL_ACKNOWLEDGED"

    @property
    def finished(self) -> bool:
        """No further change will come: COMPLETE, ERROR or cancelled."""
        return self in (KernelStatus.COMPLETE, KernelStatus.ERROR, KernelStatus.CANCEL_ACKNOWLEDGED)

    def __str__(self) -> str:
        return self.value


class SubmissionStatus(str, Enum):
    """A competition submission's status (kagglesdk `SubmissionStatus`)."""

    PENDING = "PENDING"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"

    @property
    def finished(self) -> bool:
        return self is not SubmissionStatus.PENDING

    def __str__(self) -> str:
        return self.value
