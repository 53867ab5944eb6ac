"""The interactive console: prompt_toolkit for the line editor (history, completion, Ctrl-C/Ctrl-D), and a
raw keyboard watch while a job runs so that ``q`` or Ctrl-C interrupts it, as in Arthas."""
import os
import select
import sys
import time

from .completion import Catalog, make_completer
from .runner import Foreground, Runner

INTERRUPT_GRACE = 5.0  # seconds to wait for the status after an interrupt before giving the prompt back


def history_path() -> str:
    return os.path.join(os.path.expanduser("~"), ".pyarthas", "history")


def _history():
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    path = history_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a"):
            pass
        return FileHistory(path)
    except OSError:
        return InMemoryHistory()


def interact(runner: Runner) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.patch_stdout import patch_stdout

    prompt = PromptSession(history=_history(), completer=make_completer(Catalog(runner.session.client)),
                           complete_while_typing=False)
    while True:
        try:
            with patch_stdout(raw=True):
                line = prompt.prompt(lambda: "[arthas@%s]$ " % (runner.pid or "?")).strip()
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if not line or line == "q":
            continue
        if line in ("quit", "exit", "logout"):
            break
        if line in ("cls", "clear"):
            sys.stdout.write("\x1b[H\x1b[2J")
            sys.stdout.flush()
            continue
        runner.stopping = line.split()[0] == "stop"
        foreground = runner.start(line)
        if foreground is not None:
            wait_with_keyboard(runner, foreground)
        if runner.stopping and foreground is not None and foreground.status == 0:
            return 0
        runner.stopping = False
    return 0


def wait_with_keyboard(runner: Runner, foreground: Foreground) -> None:
    """Wait for the job's end; ``q``/``Q`` or Ctrl-C interrupts it (typed keys are not echoed meanwhile)."""
    try:
        import termios
        import tty
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        runner.wait(foreground)  # no terminal to read keys from: Ctrl-C only
        return
    wake_read, wake_write = os.pipe()
    runner.wake = lambda: os.write(wake_write, b"!")
    if foreground.done.is_set():
        runner.wake()
    interrupted_at = None
    tty.setcbreak(fd)  # one key at a time, no echo; Ctrl-C still raises KeyboardInterrupt
    try:
        while not foreground.done.is_set():
            try:
                timeout = (None if interrupted_at is None
                           else max(0.0, interrupted_at + INTERRUPT_GRACE - time.monotonic()))
                ready, _, _ = select.select([fd, wake_read], [], [], timeout)
                if not ready and interrupted_at is not None:
                    runner.error("the job did not end after the interrupt; back to the prompt")
                    runner.abandon_foreground()
                    break
                if fd in ready and b"q" in os.read(fd, 1024).lower() and interrupted_at is None:
                    interrupted_at = time.monotonic()
                    runner.interrupt()
                if wake_read in ready:
                    os.read(wake_read, 1024)
            except KeyboardInterrupt:
                if interrupted_at is not None:
                    runner.abandon_foreground()
                    break
                interrupted_at = time.monotonic()
                runner.interrupt()
    finally:
        runner.wake = lambda: None
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        os.close(wake_read)
        os.close(wake_write)
