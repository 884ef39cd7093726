"""Long work in a child process, so that Ctrl-C stops it within a moment.

A numba kernel holds the interpreter until it returns: Python runs a signal handler only
between bytecodes, so a SIGINT arriving during a long search waited for it. `run_in_child`
forks; the child does the work in its own process group and sends back the result (and
progress) through a pipe; the parent waits in a system call, which a signal interrupts at
once. On KeyboardInterrupt (or any exception) the parent kills the child's whole process
group (the child and any workers it forked), waits for them, and re-raises: no process is
left behind and none prints a traceback (SIGKILL). The child writes no file: the parent
does, after the work, atomically.
"""

from __future__ import annotations

import copyreg
import io
import multiprocessing as mp
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from nnaccel import errors
from nnaccel.network import Network

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _shared(value: Any, out: dict[int, Any]) -> dict[int, Any]:
    """The networks and layers among the arguments, by id: the forked child has them at the
    same addresses, so a result that refers to them sends their id, not a copy (a network of
    330k layers would otherwise be pickled back whole)."""
    if isinstance(value, Network):
        out[id(value)] = value
        out.update((id(layer), layer) for layer in value.layers)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _shared(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _shared(item, out)
    return out


class _Pickler(pickle.Pickler):
    # Results hold read-only mappings, which pickle does not know; this pickler alone (not
    # the process's copyreg table) sends them as dicts that unpickle as read-only mappings.
    def __init__(self, f: io.BufferedWriter, shared: dict[int, Any]):
        super().__init__(f, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared
        self.dispatch_table = copyreg.dispatch_table.copy()
        self.dispatch_table[MappingProxyType] = lambda m: (_read_only, (dict(m),))

    def persistent_id(self, obj: Any) -> int | None:
        return id(obj) if self.shared.get(id(obj), self) is obj else None  # (self: not None)


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: io.BufferedReader, shared: dict[int, Any]):
        super().__init__(f)
        self.shared = shared

    def persistent_load(self, pid: int) -> Any:
        return self.shared[pid]


def _read_only(d: dict) -> MappingProxyType:
    return MappingProxyType(d)


def _child(fn: Callable[..., Any], args: tuple, kwargs: dict, progress: Callable | None,
           w: int, shared: dict[int, Any]) -> None:
    out = os.fdopen(w, "wb")

    def send(message: tuple) -> None:
        _Pickler(out, shared).dump(message)
        out.flush()

    if progress is not None:
        kwargs = {**kwargs, "progress": lambda *a: send(("progress", a))}
    try:
        send(("ok", fn(*args, **kwargs)))
    except errors.NnaccelError as exc:
        send(("error", type(exc).__name__, str(exc)))
    except errors.RunFailure as exc:
        send(("error", "RunFailure", str(exc)))
    except BaseException:  # noqa: BLE001 - a bug: the parent shows the child's traceback
        send(("crash", traceback.format_exc()))


def _kill(pid: int) -> None:
    """SIGKILL the child's process group (it and its workers) and reap the child."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:  # no such group yet: the child has not run setpgid
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    # The child first, then its workers: orphaned by its death, they were handed to this
    # process (a subreaper, `_adopt_orphans`) and are reaped here, not left as zombies.
    while True:
        try:
            os.waitpid(-pid, 0)
        except ChildProcessError:
            break
        except OSError:
            break


def _adopt_orphans() -> None:
    """Make this process the reaper of its descendants' orphans (Linux; elsewhere a no-op):
    workers of a killed child then become its children and can be waited for, instead of
    going to init, which in a container may never reap them."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


class _Ticker:
    """Calls `tick` about ten times a second on a thread of its own, until `stop`."""

    def __init__(self, tick: Callable[[], Any]):
        self.done = threading.Event()
        self.tick = tick
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.1):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a display that cannot refresh stays still
                return

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def run_in_child(fn: Callable[..., Any], *args: Any, progress: Callable | None = None,
                 tick: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
    """fn(*args, **kwargs), computed in a forked child; `progress`, if given, is passed to
    fn as its `progress` argument and called here with what the child reports. `tick`, if
    given, is called here about ten times a second while the child works (a progress bar's
    refresh: its spinner and clock keep moving between reports); its thread starts only
    after the fork, so the child never inherits a lock it holds.

    An NnaccelError in the child is raised here again with the same message; a bug in the
    child raises RuntimeError with its traceback. Without fork, fn runs in this process.
    """
    if "fork" not in mp.get_all_start_methods():
        if progress is not None:
            kwargs = {**kwargs, "progress": progress}
        return fn(*args, **kwargs)
    shared = _shared([args, kwargs], {})
    _adopt_orphans()
    r, w = os.pipe()
    # Signals wait until the child's pid is known here, so an interrupt is never lost and
    # never leaves the child running.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        os.close(r)
        os.close(w)
        raise
    if pid == 0:  # the child: never returns
        try:
            os.close(r)
            os.setpgid(0, 0)
            for sig in _SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            _child(fn, args, kwargs, progress, w, shared)
        finally:
            os._exit(0)
    os.close(w)
    ticking = _Ticker(tick) if tick is not None else None
    try:
        try:
            os.setpgid(pid, pid)  # also here: whichever of the two runs first
        except OSError:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        with os.fdopen(r, "rb") as f:
            while True:
                try:
                    message = _Unpickler(f, shared).load()
                except EOFError:
                    message = ("died",)
                if message[0] == "progress":
                    progress(*message[1])
                    continue
                break
        _, status = os.waitpid(pid, 0)
        if message[0] == "died" and os.WIFSIGNALED(status):
            if os.WTERMSIG(status) == signal.SIGINT:
                raise KeyboardInterrupt
            raise errors.RunFailure(f"the simulation process was killed by signal "
                                    f"{os.WTERMSIG(status)} (out of memory?)")
    except BaseException:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            _kill(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        raise
    finally:
        if ticking is not None:
            ticking.stop()
    if message[0] == "ok":
        return message[1]
    if message[0] == "error":
        cls = errors.RunFailure if message[1] == "RunFailure" else errors.NnaccelError
        raise cls(message[2])
    if message[0] == "crash":
        raise RuntimeError("the simulation failed:\n" + message[1])
    raise RuntimeError("the simulation process ended without a result")
