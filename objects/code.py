"""Code: objects that run Python — expressions (`expr map filter tap`) and `[py]` blocks.

Both are compiled once, when the patch is built, so syntax errors are found before anything
runs and a message costs one function call. A patch that runs code is a program: run only
patches you trust.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from itertools import count
from typing import Any

import trio

from patchflow import ArgumentError, Box

from ._expression import Expression, base_namespace, compile_expression

# -- expressions ----------------------------------------------------------------------------


class _ExpressionBox(Box):
    """The shared part of `[expr]`, `[map]`, `[filter]` and `[tap]`: inlets store `$1`…`$9`."""

    outlet_count = 1

    def __init__(self, text: str) -> None:
        self.expression: Expression = compile_expression(text, lambda: self.patch.print_line)
        self.function = self.expression.function
        slots = max(1, self.expression.slots)
        super().__init__(inlets=slots, outlets=self.outlet_count)
        # An input not received yet reads as 0, as in Pd's [expr].
        self.values: list[Any] = [0] * slots

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> _ExpressionBox:
        text = args.strip()
        if not text:
            raise ArgumentError(f"needs a Python expression, e.g. [{cls.name} $1 * 2]")
        return cls(text)

    def evaluate(self, inlet: int, message: Any) -> tuple[bool, Any]:
        """Store `message` as `$(inlet+1)`; on inlet 0 also evaluate: (evaluated, result)."""
        values = self.values
        values[inlet] = message
        if inlet:
            return False, None
        try:
            return True, self.function(*values)
        except (SystemExit, KeyboardInterrupt) as exc:  # `exit()`: this box's error
            raise self.patch.code_error(exc) from None


class Expr(_ExpressionBox):
    """Evaluate a Python expression and send the result.

    `$1`…`$9` are the values stored in inlets 0…8; the box has as many inlets as the highest
    `$n` used (at least one), and an input not received yet reads as 0. Dict values allow
    attribute access, nested too: `$1.value` is `$1["value"]`, `$1.meta.w` is
    `$1["meta"]["w"]`, a missing field is None (as in JavaScript), and a dict without that key
    keeps its methods (`$1.get("x", 0)`, `$1.items()`). The expression may use builtins and
    the modules math, json, time and random; `print(...)` writes a line to the patch output.
    A result of None sends nothing; a tuple is sent as a list.

    Security: the expression is Python and runs with your rights when the patch runs (it can
    read and delete files, or start programs). Run only patches you trust, as you would a
    Makefile; `patchflow check` and `patchflow help` never run it.

    Arguments:
        expression: a Python expression using $1…$9 (a `$` inside a string literal is text)

    Inlets:
        0: any message: store it as $1 and evaluate (hot)
        1…8: (one per $2…$9 used) store the value without evaluating (cold)

    Outlets:
        0: the result

    Example:
        [loadbang] -> [msg {value: 20}] -> [expr ($1.value or 0) + 1] -> [print]
    """

    name = "expr"

    def receive(self, inlet: int, message: Any) -> None:
        hot, result = self.evaluate(inlet, message)
        if hot and result is not None:
            self.send(list(result) if type(result) is tuple else result)


class Map(Expr):
    """Send the result of a Python expression for each message; empty passes it through.

    The same as `[expr]` (see its help for `$n`, attribute access and the modules), except
    that a box without an expression sends each message on unchanged.

    Arguments:
        expression: a Python expression using $1…$9 (optional)

    Inlets:
        0: any message: store it as $1 and evaluate (hot)
        1…8: (one per $2…$9 used) store the value without evaluating (cold)

    Outlets:
        0: the result (None sends nothing; a tuple is sent as a list)

    Example:
        [loadbang] -> [msg [1, 2, 3]] -> [map [n * 10 for n in $1]] -> [print]
    """

    name = "map"

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Map:
        return cls(args.strip() or "$1")


class Filter(_ExpressionBox):
    """Send each message on outlet 0 when a Python expression is true of it, else on outlet 1.

    The expression is written as for `[expr]` (see its help for `$n`, attribute access and
    the modules); its result is tested for truth the Python way (0, "", [], {} and None are
    false). The message itself goes out, not the result.

    Arguments:
        expression: a Python condition using $1…$9

    Inlets:
        0: any message: store it as $1 and test it (hot)
        1…8: (one per $2…$9 used) store the value without testing (cold)

    Outlets:
        0: the messages for which the expression is true
        1: the other messages

    Example:
        [loadbang] -> [msg {score: 7}] -> [filter $1.score > 5] -> [print passed]
    """

    name = "filter"
    outlet_count = 2

    def receive(self, inlet: int, message: Any) -> None:
        hot, result = self.evaluate(inlet, message)
        if hot:
            self.send(message, 0 if result else 1)


class Tap(_ExpressionBox):
    """Evaluate a Python expression for its side effect, then send the message on unchanged.

    Written as for `[expr]` (see its help); the result is ignored. Useful with `print(...)`,
    which writes a line to the patch output, or to look inside a cascade.

    Arguments:
        expression: a Python expression using $1…$9

    Inlets:
        0: any message: store it as $1, evaluate, send it on (hot)
        1…8: (one per $2…$9 used) store the value without evaluating (cold)

    Outlets:
        0: the message that came in on inlet 0

    Example:
        [loadbang] -> [msg 5] -> [tap print("saw", $1)] -> [print]
    """

    name = "tap"

    def receive(self, inlet: int, message: Any) -> None:
        hot, _ = self.evaluate(inlet, message)
        if hot:
            self.send(message)


# -- [py] -----------------------------------------------------------------------------------

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
    may_suspend = True  # its code may `await trio.sleep(...)`

    def __init__(self, code: str, *, inlets: int = 1, outlets: int = 1) -> None:
        super().__init__(inlets=inlets, outlets=outlets)
        self.code = code
        self.state: dict[str, Any] = {}
        self._filename = f"<py {next(_code_numbers)}>"
        namespace = base_namespace(lambda: self.patch.print_line)
        exec(_compile_body(code, self._filename), namespace)  # defines the function only
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

        run = self._function(message, inlet, send, self._kv, self._db, self.state, trio)
        try:
            self.patch.wait(run)
        except Exception:
            self._send_pending(pending, None)
            raise
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


def _compile_body(code: str, filename: str) -> Any:
    """Compile `code` as the body of `async def __py_box__(x, inlet, send, kv, db, state, trio)`.

    The body is parsed on its own, so its line numbers are the body's (1 = first body line)
    and string literals spanning lines keep their text; it is then put into the function.
    """
    try:
        module = ast.parse(code, filename, "exec")
        template = ast.parse(f"async def {_FUNCTION}({', '.join(_PARAMETERS)}):\n    pass")
        function = template.body[0]
        assert isinstance(function, ast.AsyncFunctionDef)
        _check_no_yield(module.body)
        function.body = module.body or function.body
        return compile(template, filename, "exec")
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


def _check_no_yield(statements: list[ast.stmt]) -> None:
    """Reject `yield` in the function's own scope (it would make an async generator)."""
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    todo: list[ast.AST] = list(statements)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            raise SyntaxError(
                "'yield' cannot be used in [py] code; use send(...)",
                ("", node.lineno, node.col_offset + 1, "", node.lineno, node.col_offset + 1),
            )
        todo.extend(child for child in ast.iter_child_nodes(node) if not isinstance(child, scopes))


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


BOXES = (Expr, Map, Filter, Tap, Py)
