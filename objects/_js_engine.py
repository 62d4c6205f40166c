"""Run the code of a `[js]` box in its own QuickJS context (the `quickjs-ng` package).

Imported only when a patch has a `[js]` box (or an arrow-function message box), so patches
without JavaScript never load the engine.

**Checking without running.** `Program(...)` compiles the code when the patch is built, also
for `patchflow check`, which must never run it. Compiling a script or calling the `Function`
constructor is not enough: a body such as `}); doSomething(); (function(){` closes the
wrapper and would run at once. So the check parses the wrapped code as an ES module whose
first statement imports a module that cannot exist: a syntax error is reported as such, and
a module that parses fails at linking, before any of its code can run.

**No calls from JavaScript into Python.** The binding refuses them while a time limit is set,
and a call back into the patch from inside the engine would nest cascades in C frames. The
glue (below) instead queues what the code does — `send`, `console.log`, a `kv`/`db` call — in
an outbox as JSON text; after each step Python drains it, delivers the messages, runs the
storage calls and settles their promises, then lets the engine run the jobs that follow
(`execute_pending_job`), until the code's promise settles. So JavaScript `await`s storage
exactly as `[py]` does, inside the cascade, depth-first.

**Time.** The per-message limit counts the CPU time spent in the engine (the binding's
interrupt handler uses `clock()`), not the time storage calls take. A loop stopped by it
raises an uncatchable InternalError. Ctrl-C cannot interrupt the engine itself (it runs C code
without the GIL); the run stops when the limit ends the loop, or the CLI's supervisor kills
it a second after the signal (stopping.py).

**Strings.** What goes back to Python is made with `Array.prototype.join`, never `+`: the
engine may keep a string built with `+` as a rope, which the binding cannot convert
("Unknown quickjs tag: -6", quickjs-ng 0.17).

**Positions.** The glue is joined into one line, and the code's wrapper starts on line 1, so
every stack frame on line 2 or later is the code's own: body line = engine line - 1.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import time
from collections.abc import Callable
from itertools import count
from typing import Any

import quickjs

from patchflow import ArgumentError, PatchflowError

from ._js_values import JS_CODEC, from_js, to_js


#: kv and db methods as JavaScript names them: (Python method, number of arguments)
@functools.cache
def storage_methods() -> dict[str, dict[str, tuple[str, tuple[str, ...], int, tuple[str, ...]]]]:
    """The `kv`/`db` methods JavaScript code gets, derived from the storage command sets.

    verb → (Python method, positional fields, required count, keyword fields). In JavaScript a
    method takes the positional fields in order, then, when the command has keyword fields,
    one options object (`db.find("notes", {}, {sort: {ts: -1}, limit: 5})`).
    """
    from patchflow import DB_COMMANDS, KV_COMMANDS

    return {"kv": KV_COMMANDS.methods(), "db": DB_COMMANDS.methods()}


_GLUE = (
    '(() => { "use strict";'
    + JS_CODEC
    + r"""
const runs = new Map();
let nextCall = 1;
const state = {};
const methods = decode(SETUP).methods;
const outlets = decode(SETUP).outlets;
const many = ["this box has ", outlets, " outlets, 0 to ", outlets - 1].join("");
const range = outlets === 1 ? "this box has one outlet, 0" : (
  outlets ? many : "this box has no outlets"
);
const failure = (error) => {
  const isError = error instanceof Error;
  const name = isError ? String(error.name) : "";
  const message = isError ? String(error.message) : String(error);
  return JSON.stringify(["err", name, message, isError ? String(error.stack || "") : ""]);
};
const call = (run, kind, store, method, args) => {
  const id = nextCall++;
  const site = new Error();
  run.out.push(JSON.stringify(["call", id, kind, store, method, args], replace));
  return new Promise((resolve, reject) => { run.pending.set(id, {resolve, reject, site}); });
};
const makeStore = (run, kind, store) => {
  const api = {};
  for (const [name, count] of Object.entries(methods[kind])) {
    api[name] = (...args) => {
      const given = Array.from({length: count}, (_, i) => args[i] ?? null);
      return call(run, kind, store, name, given);
    };
  }
  api.store = (name) => makeStore(run, kind, String(name));
  return Object.freeze(api);
};
const part = (value) => {
  if (typeof value === "string") { return JSON.stringify(value); }
  if (!keep(value)) { return JSON.stringify(String(value)); }
  try {
    return JSON.stringify([value], replace);
  } catch (error) {
    return JSON.stringify(String(value));
  }
};
const helpers = (run) => {
  const send = (value, outlet) => {
    const valid = Number.isInteger(outlet) && outlet >= 0 && outlet < outlets;
    if (outlet !== undefined && outlet !== null && !valid) {
      throw new RangeError(["send: no outlet ", String(outlet), "; ", range].join(""));
    }
    run.out.push(JSON.stringify(["send", value, outlet ?? null], replace));
  };
  const log = (...args) => { run.out.push('["log",[' + args.map(part).join(",") + "]]"); };
  const console = Object.freeze({log, info: log, debug: log, warn: log, error: log});
  return [send, makeStore(run, "kv", null), makeStore(run, "db", null), state, console];
};
const report = (id) => {
  const run = runs.get(id);
  const out = run.out.splice(0, run.out.length);
  return ['{"run":', id, ',"out":[', out.join(","), '],"done":', run.done ?? "null", "}"].join("");
};
globalThis.__pf = Object.freeze({
  start(id, text, sendsResult) {
    const run = {out: [], pending: new Map(), done: null};
    runs.set(id, run);
    const finish = (value) => {
      try { run.done = sendsResult ? JSON.stringify(["ok", value], replace) : '["ok",null]'; }
      catch (error) { run.done = failure(error); }
    };
    try {
      const result = globalThis.__pf_code(...decode(text), ...helpers(run));
      if (result !== null && typeof result === "object" && typeof result.then === "function") {
        Promise.resolve(result).then(finish, (error) => { run.done = failure(error); });
      } else {
        finish(result);
      }
    } catch (error) {
      run.done = failure(error);
    }
    return report(id);
  },
  settle(id, callId, ok, text) {
    const pending = runs.get(id).pending;
    const {resolve, reject, site} = pending.get(callId);
    pending.delete(callId);
    if (ok) { resolve(decode(text)); return; }
    const error = new Error(text);
    error.stack = site.stack;
    reject(error);
  },
  report,
  forget(id) { runs.delete(id); },
});
})();
"""
)

_FRAME = re.compile(r"<input>:(\d+)(?::(\d+))?")
_CHECK_IMPORT = 'import "patchflow:check-only"; '
_UNLOADABLE = "could not load module 'patchflow:check-only'"


_run_ids = count(1)


class JavaScriptError(PatchflowError):
    """An error the code threw (or caused); `line` is its line in the code, 1-based, if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class TimeLimit(PatchflowError):
    """The code ran longer than its time limit for one message."""


def glue_source(outlets: int) -> str:
    """The glue as one line, with the methods and the number of outlets filled in."""
    methods = {
        kind: {
            verb: len(positional) + bool(keywords)
            for verb, (_, positional, _, keywords) in table.items()
        }
        for kind, table in storage_methods().items()
    }
    setup = to_js({"methods": methods, "outlets": outlets})
    text = _GLUE.replace("SETUP", json.dumps(setup))
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class Program:
    """The code of one box, in its own engine context.

    Args:
        header: the first line of the wrapper, a function expression's start, e.g.
            `(async function (x, inlet, send, kv, db, state, console) { "use strict";`
        code: the code, from line 2 of the script on
        footer: the wrapper's last line, closing the function

    Raises:
        ArgumentError: the code has a syntax error (`code_position` holds its 0-based line
            and column in the code).
    """

    def __init__(self, header: str, code: str, footer: str) -> None:
        self.context = quickjs.Context()
        self.code_lines = code.count("\n") + 1
        self._code = code
        self._script = f"{header}\n{code}\n{footer}"
        self._check()
        self._start: Any = None
        self.broken: JavaScriptError | None = None

    def _check(self) -> None:
        try:
            self.context.module(_CHECK_IMPORT + self._script)
        except quickjs.JSException as exc:
            text = str(exc)
            if _UNLOADABLE in text:
                return  # it parsed; linking failed, so nothing ran
            raise self._syntax_error(text) from None
        raise AssertionError("the check module was evaluated")  # pragma: no cover

    def _syntax_error(self, text: str) -> ArgumentError:
        first = text.splitlines()[0] if text else "syntax error"
        match = _FRAME.search(text)
        line = int(match[1]) if match else 1
        column = int(match[2]) if match and match[2] else 1
        lines = self._code.split("\n")
        if line <= 1:
            body_line, body_column = 1, 1
        elif line > len(lines) + 1:  # in the footer: the code ended too early
            body_line, body_column = len(lines), len(lines[-1]) + 1
        else:
            body_line, body_column = line - 1, column
        if line > len(lines) + 1:
            where = "at the end of the code: is a bracket or quote left open?"
        elif len(lines) > 1:
            where = f"line {body_line}, column {body_column} of the code"
        else:
            where = f"column {body_column} of the code"
        error = ArgumentError(f"JavaScript {first} ({where})")
        error.code_position = (body_line - 1, body_column - 1)  # type: ignore[attr-defined]
        return error

    def start(self, outlets: int) -> None:
        """Define the glue and the code's function (runs the wrapper, not the code)."""
        context = self.context
        context.set_time_limit(5)
        context.eval(glue_source(outlets))
        try:  # runs no code, unless the code closes its wrapper (then it is its own fault)
            context.eval(f"globalThis.__pf_code = {self._script}")
        except quickjs.JSException as exc:
            self.broken = JavaScriptError(
                f"the code could not be defined: {str(exc).splitlines()[0]}"
            )
        self._start = context.eval("__pf.start")
        self._settle = context.eval("__pf.settle")
        self._report = context.eval("__pf.report")
        self._forget = context.eval("__pf.forget")

    def run(
        self,
        values: list[Any],
        *,
        timeout: float,
        sends_result: bool,
        deliver: Callable[[Any, int | None], None],
        log: Callable[[list[Any]], None],
        storage: Callable[[str, str | None, str, list[Any]], Any],
    ) -> Any:
        """Call the code with `values` (then send, kv, db, state, console) until it settles.

        Returns what it returned (None for bodies). Raises JavaScriptError for what it threw,
        TimeLimit when it ran out of time.
        """
        if self.broken is not None:
            raise self.broken
        clock = _Clock(self.context, timeout)
        run_id = next(_run_ids)
        try:
            report = clock.enter(self._start, run_id, to_js(values), sends_result)
            while True:
                state = from_js(report)
                out, done = state["out"], state["done"]
                for entry in out:
                    kind = entry[0]
                    if kind == "send":
                        deliver(entry[1], entry[2])
                    elif kind == "log":
                        log(entry[1])
                    else:
                        _, call_id, store_kind, store, method, args = entry
                        try:
                            result, ok = to_js(storage(store_kind, store, method, args)), True
                        except Exception as exc:  # the code may catch it: a rejected promise
                            result, ok = str(exc), False
                        clock.enter(self._settle, run_id, call_id, ok, result)
                jobs = False
                while clock.enter(self.context.execute_pending_job):
                    jobs = True
                if not out and not jobs:
                    if done is None:
                        raise JavaScriptError(
                            "the code awaits a promise that nothing will settle: [js] has "
                            "no timers or events, only kv/db calls settle promises"
                        )
                    break
                report = clock.enter(self._report, run_id)
        finally:
            self.context.set_time_limit(1)
            with contextlib.suppress(quickjs.JSException):  # best effort
                self._forget(run_id)
        if done[0] == "err":
            _, name, message, stack = done
            raise JavaScriptError(f"{name}: {message}" if name else message, self._line(stack))
        return done[1]

    def _line(self, stack: str) -> int | None:
        """The code's line of the innermost frame in the code (None if none is)."""
        for match in _FRAME.finditer(stack):
            line = int(match[1])
            if 2 <= line <= self.code_lines + 1:
                return line - 1
        return None


class _Clock:
    """Enter the engine with what is left of one message's time limit."""

    def __init__(self, context: Any, timeout: float) -> None:
        self.context = context
        self.timeout = timeout
        self.used = 0.0

    def enter(self, function: Callable[..., Any], *args: Any) -> Any:
        left = self.timeout - self.used
        if left <= 0:
            raise self.exceeded()
        self.context.set_time_limit(left)
        started = time.process_time()
        try:
            return function(*args)
        except quickjs.JSException as exc:
            if "InternalError: interrupted" in str(exc):
                raise self.exceeded() from None
            raise JavaScriptError(str(exc).splitlines()[0]) from None
        except quickjs.StackOverflow as exc:
            raise JavaScriptError(f"stack overflow: {exc}") from None
        finally:
            self.used += time.process_time() - started

    def exceeded(self) -> TimeLimit:
        limit = round(self.timeout * 1000)
        return TimeLimit(
            f"the code ran longer than its time limit of {limit} ms for one message and was "
            f"stopped; make it faster, or give the box more time with [js timeout=MS]"
        )
