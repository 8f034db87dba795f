"""The interactive shell: a prompt_toolkit prompt over a :class:`~.session.ShellSession`.

It owns the terminal: the prompt with TAB completion and history, and events printed the
moment they arrive.  Its one rule: the line being typed is never garbled — everything
printed while the prompt waits goes through prompt_toolkit's ``patch_stdout``, which prints it
above and redraws the prompt and the half-typed line below it.  Ctrl-D ends the shell
(status 0), Ctrl-C clears the line (or gives up waiting for a reply); a lost connection ends
it at once, even while the prompt waits (status 4).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer
from prompt_toolkit.completion import Completion as PromptCompletion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.patch_stdout import patch_stdout

from ..client import ConnectionLost
from .session import Answer, ShellSession, show_events

EXIT_CONNECTION = 4


class _SessionCompleter(Completer):
    def __init__(self, session: ShellSession) -> None:
        self.session = session

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[PromptCompletion]:
        for completion in self.session.complete(document.text_before_cursor):
            yield PromptCompletion(completion.text, start_position=-completion.replace)


def _print(text: str) -> None:
    print(text, flush=True)  # sys.stdout at the time: patch_stdout's proxy while prompting


class _Lost(Exception):
    """Ends the prompt when the connection goes while it waits."""


async def _interruptible(work: Coroutine[Any, Any, Answer]) -> Answer | None:
    """``work``'s answer, or None if Ctrl-C (SIGINT: the terminal is not raw while a command
    runs) cancelled it first."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # this shell itself is being cancelled
        return None
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def open_history(path: Path | None) -> History:
    """The history kept in ``path`` across sessions (in memory only when None or unusable)."""
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError as error:
        print(f"pyqmp shell: history not kept, cannot write {path}: {error}", file=sys.stderr)
        return InMemoryHistory()
    return FileHistory(str(path))


async def run_interactive(session: ShellSession, history: Path | None) -> int:
    """Prompt, run and print until Ctrl-D (0) or a lost connection (4)."""
    prompt: PromptSession[str] = PromptSession(
        "(HMP) " if session.hmp else "(QMP) ",
        completer=_SessionCompleter(session),
        complete_while_typing=False,
        history=open_history(history),
    )
    lost: list[ConnectionLost] = []

    async def print_events() -> None:
        try:
            await show_events(session.qmp, _print)
        except ConnectionLost as error:
            lost.append(error)
            if prompt.app.is_running:
                prompt.app.exit(exception=_Lost())

    printer = asyncio.create_task(print_events())
    try:
        while not lost:
            # Only the prompt's own time goes through patch_stdout: a reply is printed when no
            # prompt is drawn, straight to the terminal, so it never makes prompt_toolkit hand
            # the terminal back to cooked mode (where a key typed meanwhile, Ctrl-D, is lost).
            try:
                with patch_stdout():
                    line = await prompt.prompt_async()
            except KeyboardInterrupt:
                continue
            except EOFError:
                return 0
            except _Lost:
                break
            answer = await _interruptible(session.run_line(line))
            if answer is None:
                print("interrupted (a late reply will be dropped)", flush=True)
            elif answer.text is not None:
                print(answer.text, flush=True)
    except ConnectionLost as error:
        lost.append(error)
    finally:
        printer.cancel()
        await asyncio.gather(printer, return_exceptions=True)
    print(f"pyqmp shell: connection lost: {lost[0]}", file=sys.stderr)
    return EXIT_CONNECTION
