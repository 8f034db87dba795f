"""How pyqmp's long-running commands run their event loop: uvloop when it is there.

uvloop (the ``[fast]`` extra) is used unless ``PYQMP_NO_UVLOOP`` is set; without it,
asyncio's own loop runs the same code.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    runner: Callable[[Coroutine[Any, Any, T]], T] = asyncio.run
    if os.environ.get("PYQMP_NO_UVLOOP") is None:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:  # uvloop is optional ([fast] extra)
            pass
    return runner(main)
