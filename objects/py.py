"""Code: `[py]`, a block of Python run for each message (expressions are in code.py).

Compiled once, when the patch is built, so syntax errors are found before anything runs and a
message costs one function call. A patch that runs code is a program: run only patches you
trust.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from itertools import count
from typing import Any

import trio

from patchflow import ArgumentError, Box

from ._expression import base_namespace

_PORT = re.compile(r"(inlets|outlets)=(\d+)")
_PARAMETERS = ("x", "inlet", "send", "kv", "db", "state", "trio")
_FUNCTION = "__py_box__"
_code_numbers = count(1)


class Py(Box):
    """Run a block of Python for each message: the Python counterpart of Patchies' JSRunner.

    The code is the box's indented body (or, for one line, the argument text) and runs as the
    body of an `async` function each time a message arrives, so it may `await` (storage,
    `trio.sleep`) — no other cascade runs through the patch meanwhile — and `return` ends
    the call. It is compiled when the patch is built: a syntax error is a patch error naming
    the body line. These names are bound:

        x, inlet    the message and the number of the inlet it came in on
        send(value, outlet=None)
                    send on one outlet, or on every outlet (right to left, as [t]) when
                    outlet is None; delivery is depth-first. `await send(...)` sends at once;
                    a send that is not awaited goes out, in call order, at the next awaited
                    send or when the code ends (also when it ends with an error)
        kv, db      the box's local stores (storage.md); kv.store(name) / db.store(name)
                    for named ones; storage is opened on first use only
        state       a dict kept between messages (for this box and run)
        trio        the trio module, e.g. `await trio.sleep(0.5)`

    The modules math, json, time and random are there without importing; `print(...)` writes
    a line to the patch output. An exception is reported with the box id and the patch line
    inside the body, and the patch keeps running.

    Security: the code runs with your rights when the patch runs (it can read and delete files,
    use the network, or start programs). Run only patches you trust, as you would a Makefile;
    `patchflow check` and `patchflow help` never run it.

    Arguments:
        code: one line of Python, when there is no body
        inlets=N outlets=N: with a body, the number of ports (both default 1)

    Inlets:
        0…N-1: any message, bound to `x` (with its inlet number in `inlet`)

    Outlets:
        0…N-1: what the code sends

    Example:
        counter = [py]
            state["n"] = state.get("n", 0) + x
            await send(state["n"])
        [loadbang] -> [msg 5] -> counter -> [print total]
    """

    name = "py"
    takes_body = True

    def __init__(self, code: str, *, inlets: int = 1, outlets: int = 1) -> None:
        super().__init__(inlets=inlets, outlets=outlets)
        self.code = code
        self.state: dict[str, Any] = {}
        self._filename = f"<py {next(_code_numbers)}>"
        namespace = base_namespace(lambda: self.patch.print_line)
        compiled, self._awaits, self.may_suspend = _compile_body(code, self._filename)
        exec(compiled, namespace)  # defines the function only
        self._function: Callable[..., Any] = namespace.pop(_FUNCTION)
        self._kv = _LazyStore(self, "kv")
        self._db = _LazyStore(self, "db")

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Py:
        args = args.strip()
        if body is None:
            if not args:
                raise ArgumentError("needs code: an indented body, or one line of Python")
            if all(_PORT.fullmatch(word) for word in args.split()):
                raise ArgumentError(f"{args} sets the ports of a box with a body; add the code")
            return cls(args)
        ports = {"inlets": 1, "outlets": 1}
        given: set[str] = set()
        for word in args.split():
            match = _PORT.fullmatch(word)
            if match is None or match[1] in given:
                raise ArgumentError(
                    f"with a body, the arguments may only set the ports "
                    f"(inlets=N outlets=N); got {word!r}"
                )
            given.add(match[1])
            ports[match[1]] = int(match[2])
        if ports["inlets"] < 1:
            raise ArgumentError("inlets must be at least 1 (inlets=1)")
        return cls(body, **ports)

    def receive(self, inlet: int, message: Any) -> None:
        pending: list[_Sending] = []

        def send(value: Any, outlet: int | None = None) -> _Sending:
            if outlet is not None and (type(outlet) is not int or not 0 <= outlet < self.outlets):
                raise ValueError(f"send: no outlet {outlet!r}; {self._outlet_range()}")
            sending = _Sending(self, pending, value, outlet)
            pending.append(sending)
            return sending

        try:
            run = self._function(message, inlet, send, self._kv, self._db, self.state, trio)
            if self._awaits:
                self.patch.wait(run)
        except (SystemExit, KeyboardInterrupt) as exc:  # `exit()`: this box's error
            error = self.patch.code_error(exc)
            if pending and isinstance(error, Exception):  # not the stop of the run (Ctrl-C)
                self._send_pending(pending, None)
            raise error from None
        except Exception:
            if pending:
                self._send_pending(pending, None)
            raise
        if pending:
            self._send_pending(pending, None)

    def _send_pending(self, pending: list[_Sending], last: _Sending | None) -> None:
        """Send the queued sends in call order, up to and including `last` (all if None)."""
        while pending:
            sending = pending.pop(0)
            sending.sent = True
            value = sending.value
            if type(value) is tuple:
                value = list(value)
            if sending.outlet is None:
                for outlet in reversed(range(self.outlets)):
                    self.send(value, outlet)
            else:
                self.send(value, sending.outlet)
            if sending is last:
                return

    def _outlet_range(self) -> str:
        if self.outlets == 0:
            return "this [py] has no outlets (outlets=N)"
        if self.outlets == 1:
            return "this [py] has one outlet, 0"
        return f"this [py] has {self.outlets} outlets, 0–{self.outlets - 1}"

    def error_line(self, exc: BaseException) -> int:
        """The patch line of the deepest traceback frame that ran this box's code."""
        lineno = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        if lineno is None:
            return self.line
        return (self.body_line or self.line) + lineno - 1


class _Sending:
    """One `send(...)` call of a `[py]` run: sent when awaited, or when the code ends."""

    __slots__ = ("box", "outlet", "pending", "sent", "value")

    def __init__(self, box: Py, pending: list[_Sending], value: Any, outlet: int | None) -> None:
        self.box = box
        self.pending = pending
        self.value = value
        self.outlet = outlet
        self.sent = False

    def __await__(self) -> Any:
        if not self.sent:
            self.box._send_pending(self.pending, self)
        return iter(())  # done at once: awaiting it returns None without suspending


class _LazyStore:
    """`kv` or `db` inside `[py]`: opens the patch's storage on first use, then delegates.

    A `[py]` that never touches storage opens none (and so writes nothing to disk).
    """

    __slots__ = ("_box", "_kind", "_store")

    def __init__(self, box: Box, kind: str) -> None:
        self._box = box
        self._kind = kind
        self._store: Any = None

    def _target(self) -> Any:
        if self._store is None:
            storage = self._box.patch.storage
            self._store = getattr(storage, self._kind)(local=self._box.id)
        return self._store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __repr__(self) -> str:
        return f"<{self._kind} of [py] {self._box.id}>"


def _compile_body(code: str, filename: str) -> tuple[Any, bool, bool]:
    """Compile `code` as the body of `__py_box__(x, inlet, send, kv, db, state, trio)`.

    The body is parsed on its own, so its line numbers are the body's (1 = first body line)
    and string literals spanning lines keep their text; it is then put into the function.

    Returns (code object, awaits, may suspend). The function is `async def` only if the body
    awaits (a plain call costs about a microsecond less per message than driving a
    coroutine), and the box may suspend only if it awaits something other than `send(...)`
    and its stores (see `_may_suspend`): only then does its patch need the cascade worker.
    """
    try:
        module = ast.parse(code, filename, "exec")
        _check_no_yield(module.body)
        awaits = _awaits(module.body)
        keyword = "async def" if awaits else "def"
        template = ast.parse(f"{keyword} {_FUNCTION}({', '.join(_PARAMETERS)}):\n    pass")
        function = template.body[0]
        assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        function.body = module.body or function.body
        return compile(template, filename, "exec"), awaits, _may_suspend(module)
    except SyntaxError as exc:
        raise _syntax_error(code, exc) from None
    except (RecursionError, MemoryError):
        # what Python's parser and compiler raise for code nested too deep (a 1000-term sum,
        # thousands of unary minuses), instead of a SyntaxError
        error = ArgumentError(
            f"Python code too deeply nested or too long for Python's compiler; {_SPLIT_CODE}"
        )
        error.line_offset, error.column_offset = 0, 0  # type: ignore[attr-defined]
        raise error from None


_SPLIT_CODE = (
    "split it into smaller statements or functions (e.g. `a = b + c` then `d = a * 2`), "
    "or into several boxes"
)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _check_no_yield(statements: list[ast.stmt]) -> None:
    """Reject `yield` in the function's own scope (it would make an async generator)."""
    todo: list[ast.AST] = list(statements)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            raise SyntaxError(
                "'yield' cannot be used in [py] code; use send(...)",
                ("", node.lineno, node.col_offset + 1, "", node.lineno, node.col_offset + 1),
            )
        todo.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, _SCOPES))


#: what `await` on a call rooted at these names (`send(...)`, `kv.get(...)`,
#: `db.store("n").find(...)`) gives completes without suspending: `_Sending.__await__` and the
#: storage facades' coroutines (storage/store.py) never yield to the event loop
_INLINE_AWAITS = frozenset({"send", "kv", "db"})


def _awaits(statements: list[ast.stmt]) -> bool:
    """Whether the function's own scope awaits (so it must be `async def`)."""
    todo: list[ast.AST] = list(statements)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
            return True
        if isinstance(node, ast.comprehension) and node.is_async:
            return True
        todo.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, _SCOPES))
    return False


def _may_suspend(module: ast.Module) -> bool:
    """Whether the code may await something that really suspends (`trio.sleep`, any other).

    Conservative: every `async for`/`async with`, every await of anything but a call rooted
    at `send`, `kv` or `db`, and any rebinding of those names anywhere in the code count.
    """
    for node in ast.walk(module):
        if isinstance(node, ast.AsyncFor | ast.AsyncWith):
            return True
        if isinstance(node, ast.Await) and _call_root(node.value) not in _INLINE_AWAITS:
            return True
        if _INLINE_AWAITS.intersection(_bound_names(node)):
            return True
    return False


def _call_root(node: ast.expr) -> str | None:
    """`kv` for `kv.store("a").get("k")`; None unless `node` is a call on a chain of names."""
    if not isinstance(node, ast.Call):
        return None
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _bound_names(node: ast.AST) -> tuple[str | None, ...]:
    """The names `node` binds (assignment targets, parameters, imports, handlers, patterns)."""
    if isinstance(node, ast.Name):
        return () if isinstance(node.ctx, ast.Load) else (node.id,)
    if isinstance(node, ast.arg):
        return (node.arg,)
    if isinstance(node, ast.alias):
        return (node.asname or node.name.partition(".")[0],)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return (node.name,)
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        return (node.name,)
    if isinstance(node, ast.MatchMapping):
        return (node.rest,)
    if isinstance(node, ast.Global | ast.Nonlocal):
        return tuple(node.names)
    return ()


def _syntax_error(code: str, exc: SyntaxError) -> ArgumentError:
    """An ArgumentError naming the line and column of the code (body lines count from 1)."""
    line = exc.lineno or 1
    where = f"line {line} of the body" if "\n" in code else "the code"
    column = f", column {exc.offset}" if exc.offset else ""
    # Python's limits (200 nested parentheses, 100 indentation levels, 20 nested blocks)
    hint = f"; {_SPLIT_CODE}" if exc.msg.startswith("too many") else ""
    error = ArgumentError(f"Python syntax error in {where}{column}: {exc.msg}{hint}")
    error.line_offset = line - 1  # type: ignore[attr-defined]
    error.column_offset = max(0, (exc.offset or 1) - 1)  # type: ignore[attr-defined]
    return error


BOXES = (Py,)
