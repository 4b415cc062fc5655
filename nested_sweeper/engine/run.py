"""What happens inside each run's process: the task function wrapped by the sweeper.

The launcher pickles the wrapper with the task (joblib, submitit), so it carries the batch's
suggestions keyed by job number. Before the task it writes ``config.yaml`` and
``suggestion.yaml`` into the run directory; it enforces the run timeout and returns the
task's value with the measured runtime.

With ``run_timeout`` set, the task runs in a forked child process that is killed at the limit:
an exception raised asynchronously into arbitrary code (an import half done, a lock held)
would poison the process for every later run, so nothing is ever raised into the task. A run
that still outlived its limit (no fork on this platform) is FAIL ``timeout`` whatever it
returned. ``SystemExit`` and ``KeyboardInterrupt`` from the task fail the run, not the sweep;
only a real Ctrl-C of the sweep stops it.
"""

from __future__ import annotations

import contextlib
import decimal
import math
import numbers
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nested_sweeper.storage import hide_password

# What suggestion.yaml records about a run (the storage URL without its password).
SUGGESTION_KEYS = ("parameters", "round", "trial", "study", "storage", "run", "metric", "goal")
# Seconds a child stopped by Ctrl-C gets to exit before it is killed.
GRACE_S = 5.0
# Longest reason text kept from a run's exception or return value.
REASON_CHARS = 300


class RunTimeout(Exception):
    """The run took longer than ``hydra.sweeper.run_timeout``."""


class RunStopped(Exception):
    """The task raised SystemExit or KeyboardInterrupt: a failed run, not the end of the sweep."""


class RunCrashed(Exception):
    """The run's child process died without a result (killed, segfault, an unpicklable error)."""


@dataclass
class RunOutcome:
    value: Any
    runtime: float
    pruned: bool = False


@dataclass
class TrialRunner:
    task_function: Callable[[Any], Any]
    timeout: float | None = None
    # job number -> {"parameters", "round", "trial", "study", "storage", "run"}
    trials: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, cfg: Any) -> RunOutcome:
        from hydra.core.hydra_config import HydraConfig

        hydra_cfg = HydraConfig.get()
        info = self.trials.get(hydra_cfg.job.num, {})
        write_run_files(Path(hydra_cfg.runtime.output_dir), cfg, info)
        start = time.perf_counter()
        if self.timeout and can_fork():
            value, pruned = run_in_child(lambda: self._task(cfg, info), self.timeout)
        else:
            value, pruned = self._task(cfg, info)
        runtime = time.perf_counter() - start
        if self.timeout and runtime > self.timeout:  # whatever it returned: it ran too long
            raise timeout_error(self.timeout)
        return RunOutcome(value=value, runtime=runtime, pruned=pruned)

    def _task(self, cfg: Any, info: dict[str, Any]) -> tuple[Any, bool]:
        from nested_sweeper.engine import report as _report

        _report.activate(info)
        try:
            with ctrl_c_watch():
                value = self.task_function(cfg)
        except (SystemExit, KeyboardInterrupt) as err:
            if isinstance(err, KeyboardInterrupt) and ctrl_c_pressed():
                raise  # the user's Ctrl-C: stop the sweep
            raise RunStopped(stop_reason(err)) from None
        finally:
            pruned = _report.deactivate()
        return value, pruned


def timeout_error(seconds: float) -> RunTimeout:
    return RunTimeout(f"timeout after {seconds:g}s (hydra.sweeper.run_timeout)")


def stop_reason(err: BaseException) -> str:
    if isinstance(err, SystemExit):
        return f"the run called sys.exit({err.code!r})"
    return "the run raised KeyboardInterrupt"


# ---------------------------------------------------------------------------- Ctrl-C

_ctrl_c = False


def ctrl_c_pressed() -> bool:
    """Whether SIGINT reached this process while a run was under way (a real Ctrl-C)."""
    return _ctrl_c


@contextlib.contextmanager
def ctrl_c_watch() -> Iterator[None]:
    """Tell a Ctrl-C (SIGINT) apart from a KeyboardInterrupt the task raises itself."""
    global _ctrl_c
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _on_sigint(signum: int, frame: Any) -> None:
        global _ctrl_c
        _ctrl_c = True
        raise KeyboardInterrupt

    _ctrl_c = False
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------- child process


def can_fork() -> bool:
    return hasattr(os, "fork") and threading.current_thread() is threading.main_thread()


def run_in_child(fn: Callable[[], Any], timeout: float) -> Any:
    """``fn()`` in a forked child, killed (with its process group) after ``timeout`` seconds."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    # SIGINT is held across the fork: one that lands inside os.fork's after-fork hooks
    # (logging's lock release) is printed as "Exception ignored" and lost, and the sweep runs
    # on. Held, it is delivered when the mask is restored: to the watch here, and in the child
    # once its own handler is in place.
    with ctrl_c_watch():
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            raise
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child_main(fn, write_fd, mask)
        os.close(write_fd)
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            payload, status = _read_result(read_fd, pid, time.monotonic() + timeout)
        except BaseException:
            _stop_child(pid, graceful=ctrl_c_pressed())
            raise
        finally:
            os.close(read_fd)
    _kill_group(pid)  # past the deadline, or processes the run left behind
    if status is None:
        status = os.waitpid(pid, 0)[1]
    if payload is None:
        raise timeout_error(timeout)
    return _unpack(payload, status)


def _read_result(fd: int, pid: int, deadline: float) -> tuple[bytes | None, int | None]:
    """(the child's length-prefixed result or b"" if it died without one, its exit status if
    reaped); (None, None) once the deadline passes. The length prefix, not end of file, ends
    the result: processes the run forked may hold the pipe open after the child exits."""
    data = b""
    while True:
        size = int.from_bytes(data[:8], "big") if len(data) >= 8 else None
        if size is not None and len(data) >= 8 + size:
            return data[8:8 + size], None
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        chunk = os.read(fd, 1 << 20) if ready else None
        if chunk:
            data += chunk
            continue
        if chunk == b"":  # end of file before a whole result: the child died
            return b"", os.waitpid(pid, 0)[1]
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:  # exited; its result, if any, is still in the pipe
            rest = _drain(fd)
            data += rest
            complete = len(data) >= 8 and len(data) >= 8 + int.from_bytes(data[:8], "big")
            return (data[8:] if complete else b""), status


def _drain(fd: int) -> bytes:
    data = b""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        data += chunk
    return data


def _unpack(payload: bytes, status: int | None) -> Any:
    if not payload:
        raise RunCrashed(f"the run's process ended without a result ({_exit_text(status)})")
    kind, body = pickle.loads(payload)
    if kind == "ok":
        return body
    raise body


def _exit_text(status: int | None) -> str:
    if status is None:
        return "unknown exit status"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"killed by {signal.Signals(sig).name}" if sig in signal.valid_signals() else f"signal {sig}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _child_main(fn: Callable[[], Any], fd: int, mask: set[int | signal.Signals]) -> None:
    """Run ``fn`` and write ("ok", value) or ("raised", error) to ``fd``; exit without cleanup
    (the parent's atexit handlers, database connections and threads are not the child's)."""
    code = 0
    try:
        os.setpgid(0, 0)  # its own group: a timeout kills what it started too
        _die_with_parent()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a Ctrl-C held since the fork
        try:
            result: tuple[str, Any] = ("ok", fn())
        except BaseException as err:  # reported to the parent, which fails the run with it
            if isinstance(err, Exception):  # the run's stderr keeps where it failed
                traceback.print_exc()
            result = ("raised", _portable_error(err))
        payload = _dumps(result)
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(len(payload).to_bytes(8, "big") + payload)
    except BaseException:  # nothing can be reported: the parent sees an empty result
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:
    """Linux: the kernel kills the child when the sweeper dies (no orphan keeps training)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _portable_error(err: BaseException) -> BaseException:
    """The error itself when it survives pickling, else a RunCrashed naming it."""
    if not isinstance(err, Exception):  # SystemExit, KeyboardInterrupt: the run failed
        return RunStopped(stop_reason(err))
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return RunCrashed(short(f"{type(err).__name__}: {err}"))


def _dumps(result: tuple[str, Any]) -> bytes:
    """The result pickled; a mapping keeps the entries that pickle (a logger object among the
    metrics must not lose the run's reward)."""
    try:
        return pickle.dumps(result)
    except Exception:
        pass
    kind, (value, pruned) = result
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            with contextlib.suppress(Exception):
                pickle.dumps((key, item))
                kept[key] = item
        return pickle.dumps((kind, (kept, pruned)))
    error = RunCrashed(f"returned a {type(value).__name__}, which cannot leave the run's process")
    return pickle.dumps(("raised", error))


def _stop_child(pid: int, *, graceful: bool) -> None:
    """Ctrl-C: the child's group gets SIGINT and a few seconds; otherwise SIGKILL at once."""
    if graceful:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGINT)
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                _kill_group(pid)
                return
            time.sleep(0.05)
    _kill_group(pid)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# ---------------------------------------------------------------------------- return values


def read_metric(value: Any, metric: str) -> tuple[float | None, dict[str, float], str | None]:
    """(metric, all finite numbers, failure reason) from a job's return value; never raises."""
    try:
        return _read_metric(value, metric)
    except Exception as err:  # a value whose methods raise: the run failed, not the sweep
        return None, {}, short(f"cannot read the returned value: {type(err).__name__}: {err}")


def _read_metric(value: Any, metric: str) -> tuple[float | None, dict[str, float], str | None]:
    if isinstance(value, RunOutcome):
        value = value.value
    if isinstance(value, Mapping):
        numbers_ = {str(k): n for k, v in value.items() if (n := as_number(v)) is not None}
        if metric not in numbers_:
            keys = sorted(short(str(k), 40) for k in value)[:20]
            held = value.get(metric, None) if metric in value else None
            why = f" ('{metric}' is {_describe(held)})" if metric in value else ""
            return None, _finite(numbers_), f"the returned mapping has no number '{metric}'{why} (keys: {keys})"
        result = numbers_[metric]
    else:
        number = as_number(value)
        if number is None:
            return None, {}, f"returned {_describe(value)}, not a number or a mapping holding '{metric}'"
        result, numbers_ = number, {metric: number}
    if not math.isfinite(result):
        shown = "not finite (beyond the float range)" if _huge(value, metric) else str(result)
        return None, _finite(numbers_), f"metric '{metric}' is {shown}"
    return result, _finite(numbers_), None


def as_number(value: Any) -> float | None:
    """A real number of any type as a float (±inf beyond the float range); None otherwise.

    Accepted: int, float, Fraction, Decimal, numpy scalars and 0-d arrays, 0-d tensors.
    Refused: bools (a flag is not a score), complex numbers, strings, containers.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    if isinstance(value, decimal.Decimal):
        return _decimal(value)
    if isinstance(value, numbers.Integral):
        return _big_int(int(value))
    if isinstance(value, numbers.Real):
        return float(value)
    item = _zero_d_item(value)
    return None if item is None else as_number(item)


def _decimal(value: decimal.Decimal) -> float:
    if value.is_nan():
        return math.nan
    try:
        return float(value)  # Decimal beyond the float range converts to ±inf, never raises
    except (OverflowError, ValueError):
        return math.inf if value > 0 else -math.inf


def _big_int(value: int) -> float:
    try:
        return float(value)
    except OverflowError:  # 10**400: a real number, but no float holds it
        return math.inf if value > 0 else -math.inf


def _zero_d_item(value: Any) -> Any:
    """The Python scalar inside a one-element numpy array or tensor, else None."""
    shape = getattr(value, "shape", None)
    item = getattr(value, "item", None)
    if shape is None or not callable(item) or math.prod(tuple(shape)) != 1:
        return None
    scalar = item()
    return scalar if isinstance(scalar, (numbers.Real, decimal.Decimal)) else None


def _huge(value: Any, metric: str) -> bool:
    raw = value.get(metric) if isinstance(value, Mapping) else value
    return isinstance(raw, (numbers.Integral, decimal.Decimal)) and not isinstance(raw, bool)


def _finite(found: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in found.items() if math.isfinite(v)}


def _describe(value: Any) -> str:
    """A short description of a returned value for a failure reason (reprs can be huge)."""
    if value is None or isinstance(value, (bool, str)):
        return short(repr(value), 60)
    return f"a {type(value).__name__}"


def error_reason(err: Any) -> str:
    """``Type: message`` of a run's exception on one short line (its str() may raise)."""
    try:
        text = str(err)
    except Exception:
        text = "(the error's message cannot be shown)"
    return short(f"{type(err).__name__}: {text}")


def short(text: str, limit: int = REASON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- run files


def write_run_files(out_dir: Path, cfg: Any, info: dict[str, Any]) -> None:
    from omegaconf import OmegaConf

    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    except Exception:  # an interpolation only the app can resolve: keep it unresolved
        OmegaConf.save(cfg, out_dir / "config.yaml", resolve=False)
    if info:
        shown = {k: v for k, v in info.items() if k in SUGGESTION_KEYS}
        shown["storage"] = hide_password(str(info.get("storage", "")))
        OmegaConf.save(OmegaConf.create(shown), out_dir / "suggestion.yaml")


