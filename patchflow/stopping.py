"""Stop a run on SIGINT or SIGTERM, even while a box is busy in Python or in C code.

A cascade is a chain of plain calls, so trio gets control only between cascades. A `[py]` or
`[expr]` box that loops (`while True: pass`), sleeps (`time.sleep(100)`) or computes in C
(`sum(range(10**12))`) kept the CLI's old signal watcher (`trio.open_signal_receiver`, which
waits for trio) from ever running, and SIGTERM killed the process without closing storage.

Two layers, each simple:

`stop_on_signals()`, in the process that runs the patch, makes SIGTERM act as Ctrl-C: both
raise KeyboardInterrupt through trio's own SIGINT handler, which raises it at once in box code
(not KeyboardInterrupt-protected; Python checks between bytecodes, and `time.sleep` is
interrupted) and at the next checkpoint when trio itself is running. The run unwinds through
its `finally` blocks, so its storage is closed; leaving the block swallows that
KeyboardInterrupt and `exit_code` is 130 or 143. Measured (2026-05, 2-core Linux VM): a
`patchflow run` busy in a Python loop or `time.sleep` exits 0.06 s after the signal.

C code that never returns to Python (`sum(range(10**12))`) holds the GIL: no handler, and no
thread of the same process, runs until it returns (a watcher thread blocked in `sigwait` was
measured to hang there for ever). `supervise()` is the last resort for that: it forks, the
child runs the program, and the parent — a separate process with its own GIL — only waits.
It passes each signal on to the child, and if the child has not ended `GRACE` seconds (1 s)
later it kills it with SIGKILL and exits 130 / 143 itself, with one line on standard error.
Nothing committed is lost that way: LMDB commits are atomic and fsynced before a write
returns, and the kernel releases LMDB's locks with the process.

The CLI's `run` uses both. An embedding program can too, from its main thread:

    from patchflow.stopping import stop_on_signals, supervise

    supervise()                             # optional: also stop code stuck in C
    with stop_on_signals() as stop:
        trio.run(main)                      # main() uses Patch.running / Patch.run
    sys.exit(stop.exit_code)                # 0, or 130 / 143 after SIGINT / SIGTERM

A KeyboardInterrupt that box code raises itself (`raise KeyboardInterrupt`) is that box's
error, not a stop: `is_stop` tells them apart by where it was raised (a stop comes from trio's
signal handling). `supervise` needs `os.fork` (not on Windows, where it does nothing).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
GRACE = 1.0  # seconds a signalled run gets to end before the supervisor kills it
_SI_KERNEL = 0x80  # si_code of a signal sent by the terminal (Ctrl-C) to the whole job


def stop_on_signals() -> SignalStop:
    """Stop the code of a `with` block on SIGINT or SIGTERM: `with stop_on_signals() as stop`."""
    return SignalStop()


class SignalStop:
    """Stop the code of the `with` block on SIGINT or SIGTERM (see the module docstring).

    Use it in the main thread. Leaving the block after a signal swallows the KeyboardInterrupt
    that stopped the code (also inside a trio exception group) and sets `signum` and
    `exit_code`; a second signal while the block ends is ignored.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int:
        """0, or 130 / 143 when SIGINT / SIGTERM stopped the block."""
        return 0 if self.signum is None else EXIT_CODES[signal.Signals(self.signum)]

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("stop_on_signals() works in the main thread only")
        for signum in SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
        # SIGINT keeps Python's handler, which trio replaces with its own inside trio.run.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, self._as_interrupt)
        return self

    def _as_interrupt(self, signum: int, frame: types.FrameType | None) -> None:
        """SIGTERM: record it, then do what SIGINT does (trio's handler inside trio.run)."""
        if self.signum is None:
            self.signum = signum
        handler: Callable[[int, types.FrameType | None], Any] = signal.getsignal(signal.SIGINT)  # type: ignore[assignment]
        handler(signal.SIGINT, frame)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> bool:
        stopped = exc is not None and _only_interrupts(exc)
        if stopped and self.signum is None:
            self.signum = signal.SIGINT
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C as the block ends
            if self.signum is not None:
                for signum in SIGNALS:
                    signal.signal(signum, signal.SIG_IGN)
            for signum, handler in self._previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        return stopped


def is_stop(exc: KeyboardInterrupt) -> bool:
    """Whether `exc` is the stop of the run (a signal), not raised by box code itself.

    A signal's KeyboardInterrupt comes from trio's SIGINT handling inside `trio.run` (its
    handler, or its delivery at a checkpoint): its innermost frame is trio's. Cascades run only
    inside `trio.run`, so this also holds for embedders who do not use `stop_on_signals`.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__")).startswith("trio.")


def _only_interrupts(exc: BaseException) -> bool:
    """Whether `exc` is a KeyboardInterrupt, or a group of only those (and trio.Cancelled)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_interrupts(inner) for inner in exc.exceptions)
    if isinstance(exc, KeyboardInterrupt):
        return True
    import trio

    return isinstance(exc, trio.Cancelled)


# -- the supervisor ---------------------------------------------------------------------------


def supervise(grace: float = GRACE) -> None:
    """Fork; return in the child, which runs the program; the parent watches and never returns.

    The parent passes SIGINT and SIGTERM on to the child (not a terminal's Ctrl-C, which the
    child gets itself) and exits with the child's exit code, or after a signal kills a child
    that is still running `grace` seconds later and exits 130 / 143. The child stops as on
    SIGTERM if the parent goes away. Call it early, before any thread or storage is opened
    (an LMDB environment must not cross a fork); it does nothing where it cannot work: no
    `os.fork`, not the main thread, other threads running, or standard streams that are not
    real files (click's test runner).
    """
    if not _can_fork():
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # or the child would write what is buffered a second time
    watched = {*SIGNALS, signal.SIGCHLD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    parent_alive, parent_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(parent_end)
        _stop_when_orphaned(parent_alive)  # its thread starts with the signals blocked
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return
    os.close(parent_alive)
    code = 1
    try:
        code = _watch_child(pid, watched, grace)
    finally:
        os._exit(code)


def _can_fork() -> bool:
    if not hasattr(os, "fork") or not hasattr(signal, "pthread_sigmask"):
        return False
    if threading.current_thread() is not threading.main_thread() or threading.active_count() > 1:
        return False
    try:
        return all(stream.fileno() >= 0 for stream in (sys.stdin, sys.stdout, sys.stderr))
    except (AttributeError, OSError, ValueError):
        return False


def _watch_child(pid: int, watched: set[int], grace: float) -> int:
    """The parent's loop: pass signals on, reap the child, kill it if it outlives `grace`."""
    stopped_by: int | None = None
    deadline = 0.0
    while True:
        if stopped_by is None:
            info = signal.sigwaitinfo(watched)
        else:
            info = signal.sigtimedwait(watched, max(0.0, deadline - time.monotonic()))
            if info is None:
                return _kill_child(pid, stopped_by, grace)
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return _exit_code(status)
            continue
        if stopped_by is None:
            stopped_by, deadline = info.si_signo, time.monotonic() + grace
        if info.si_code != _SI_KERNEL:
            os.kill(pid, info.si_signo)


def _exit_code(status: int) -> int:
    """The child's exit code, or 128 + N for a child ended by signal N (as a shell says)."""
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _kill_child(pid: int, signum: int, grace: float) -> int:
    name = signal.Signals(signum).name
    message = (
        f"patchflow: stopped by {name}; a box was still busy after {grace:g} s in code that"
        " does not return to Python, so it was killed without closing storage (committed"
        " data is safe)\n"
    )
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        os.write(2, message.encode())
    return EXIT_CODES[signal.Signals(signum)]


def _stop_when_orphaned(parent_alive: int) -> None:
    """In the child: when the parent's end of the pipe closes (it died), stop as on SIGTERM."""

    def wait_for_parent() -> None:
        with contextlib.suppress(OSError):
            while os.read(parent_alive, 1):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait_for_parent, name="patchflow-parent", daemon=True).start()
