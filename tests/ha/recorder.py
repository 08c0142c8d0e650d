"""A push driver whose action ``record(value)`` appends a line to a file: the HA tests count
the lines to see that every action ran exactly once, whichever node ran it.

Loaded by the test deployment's servers through ``custom_driver_endpoints =
recorder=recorder:RecorderDriver`` (``tests/ha`` is on their ``PYTHONPATH``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from congress.datasources.execution import Action, ExecutionMixin
from congress.datasources.options import Option
from congress.datasources.push import PushDriver


class RecorderDriver(ExecutionMixin, PushDriver):
    DRIVER_NAME: ClassVar[str] = "recorder"
    DESCRIPTION: ClassVar[str] = "Push driver that records the actions it is asked to run."
    CONFIG: ClassVar[Mapping[str, Option]] = {
        **PushDriver.CONFIG,
        "file": Option(True, description="file the actions are appended to"),
    }
    ACTIONS: ClassVar[Mapping[str, Action]] = {
        "record": Action("append a value to the file", (("value", "what to record"),), "record")
    }

    def record(self, value: object) -> None:
        with open(str(self.config["file"]), "a") as out:
            out.write(f"{value} {os.getpid()}\n")
