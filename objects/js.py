"""JavaScript: `[js]` boxes and arrow-function message boxes, the counterpart of `[py]`.

The engine (QuickJS, from the `quickjs-ng` package) is imported only when a patch has one of
these boxes: `from_text` imports `_js_engine`, and nothing else here touches it. Each box has
its own engine context, made and checked when the patch is built (so `patchflow check` finds
syntax errors without running anything); its code is defined when the run starts.
"""

from __future__ import annotations

import re
from typing import Any

from patchflow import ArgumentError, Box, to_json

_OPTION = re.compile(r"(inlets|outlets|timeout)=(\d+)")
_DEFAULT_TIMEOUT_MS = 1000
_ARROW = re.compile(r"\s*(?:async\s+)?(?:[A-Za-z_$][\w$]*|\([^()]*\))\s*=>")
# string literals and comments, whose `$1` is text, not an input
_JS_TEXT = re.compile(r"""//[^\n]*|/\*.*?\*/|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*\"""", re.DOTALL)
_DOLLAR = re.compile(r"(?<![\w$])\$([1-9])(?![\w$])")
_HELPERS = "send, kv, db, state, console"


def is_arrow_function(text: str) -> bool:
    """Whether a message box's whole text is a JavaScript arrow function (`x => …`)."""
    return _ARROW.match(text) is not None


def _slots(code: str) -> int:
    """The highest `$n` a one-line expression uses (0 for none)."""
    return max((int(n) for n in _DOLLAR.findall(_JS_TEXT.sub(" ", code))), default=0)


class Js(Box):
    """Run JavaScript for each message: an expression, or a body like Patchies' JSRunner.

    One line, `[js: EXPR]` or `[js EXPR]`: EXPR is evaluated for each message with `x` bound
    to it (`inlet` too, as in the storage spec's examples), and `$1`…`$9` as in `[expr]`
    (the box gets an inlet per `$n` used; `$2`… are stored, not evaluated). The result is
    sent; `undefined` or `null` sends nothing; a promise is awaited first.

    With an indented body, the body runs as an `async` function for each message, with:

        x, inlet    the message and the number of its inlet
        send(value, outlet)
                    send on one outlet, or on every outlet (right to left) without one;
                    messages go out, in order, when the code awaits or ends
        kv, db      the box's local stores, with the methods of [kv] and [db] as promises
                    (`await kv.get("count")`, `await db.find("notes", {done: false})`);
                    kv.store(name) / db.store(name) for named stores
        state       an object kept between messages (for this box and run)
        console.log write a line to the patch output, as [print] does

    Values cross as messages: objects and dicts, arrays and lists, strings, booleans, null,
    numbers (an integral number comes back as an int), Uint8Array or ArrayBuffer and bytes.
    The engine is ES2023 without Node or browser APIs: no timers, files or network. Code is
    strict mode. The code is compiled when the patch is built: a syntax error is a patch
    error at its line. A thrown error is reported with the box and the body line, and the
    patch goes on; so is a message that runs longer than the time limit (the time counted is
    the engine's, not storage's).

    Security: the code runs when the patch runs, with no file or network access of its own,
    but a patch is a program: it can change or delete the patch's stored data, and the other
    boxes of the patch run Python with your rights. Run only patches you trust;
    `patchflow check` and `patchflow help` never run the code.

    Arguments:
        expression: one line of JavaScript, when there is no body
        inlets=N outlets=N: with a body, the number of ports (both default 1)
        timeout=MS: with a body, the time limit per message in milliseconds (default 1000)

    Inlets:
        0: any message: x (hot); one-line: 1…8 store $2…$9 (one per $n used, cold)
        0…N-1: with a body, any message, bound to x (its number in `inlet`)

    Outlets:
        0: one-line: the result; with a body, 0…N-1: what the code sends

    Example:
        counter = [js]
            state.n = (state.n ?? 0) + x;
            send({n: state.n, twice: await Promise.resolve(2 * state.n)});
        [loadbang] -> [msg 5] -> counter -> [print]
    """

    name = "js"
    takes_body = True

    def __init__(
        self,
        program: Any,
        *,
        inlets: int = 1,
        outlets: int = 1,
        timeout_ms: int = _DEFAULT_TIMEOUT_MS,
        one_line: bool = True,
        slots: int = 0,
    ) -> None:
        super().__init__(inlets=inlets, outlets=outlets)
        self.program = program
        self.timeout = timeout_ms / 1000
        self.one_line = one_line
        self.slots = slots  # the $n a one-line expression uses
        self.values: list[Any] = [0] * inlets  # $1…$n; an input not received yet reads as 0
        self._stores: dict[tuple[str, str | None], Any] = {}

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Js:
        from ._js_engine import Program

        args = args.strip()
        if body is None:
            if not args:
                raise ArgumentError("needs code: an indented body, or one JavaScript expression")
            if all(_OPTION.fullmatch(word) for word in args.split()):
                raise ArgumentError(f"{args} sets options of a box with a body; add the code")
            slots = _slots(args)
            names = "".join(f"${n}, " for n in range(1, slots + 1))
            header = f'(function (x, inlet, {names}{_HELPERS}) {{ "use strict"; return ('
            program = Program(header, args, "); })")
            return cls(program, inlets=max(1, slots), slots=slots)
        options = {"inlets": 1, "outlets": 1, "timeout": _DEFAULT_TIMEOUT_MS}
        given: set[str] = set()
        for word in args.split():
            match = _OPTION.fullmatch(word)
            if match is None or match[1] in given:
                raise ArgumentError(
                    f"with a body, the arguments may only be inlets=N outlets=N timeout=MS; "
                    f"got {word!r}"
                )
            given.add(match[1])
            options[match[1]] = int(match[2])
        if options["inlets"] < 1:
            raise ArgumentError("inlets must be at least 1 (inlets=1)")
        if options["timeout"] < 1:
            raise ArgumentError("timeout is in milliseconds and must be at least 1 (timeout=1000)")
        header = f'(async function (x, inlet, {_HELPERS}) {{ "use strict";'
        program = Program(header, body, "})")
        return cls(
            program,
            inlets=options["inlets"],
            outlets=options["outlets"],
            timeout_ms=options["timeout"],
            one_line=False,
        )

    def start(self) -> None:
        self.program.start(self.outlets)

    def receive(self, inlet: int, message: Any) -> None:
        if self.one_line:
            values = self.values
            values[inlet] = message
            if inlet:
                return
            arguments = [message, message, *values[: self.slots]]
        else:
            arguments = [message, inlet]
        result = self.program.run(
            arguments,
            timeout=self.timeout,
            sends_result=self.one_line,
            deliver=self._deliver,
            log=self._log,
            storage=self._storage,
        )
        if result is not None:
            self.send(result)

    def _deliver(self, value: Any, outlet: int | None) -> None:
        if outlet is None:
            for each in reversed(range(self.outlets)):
                self.send(value, each)
        else:
            self.send(value, outlet)

    def _log(self, parts: list[Any]) -> None:
        words = (part if isinstance(part, str) else to_json(part[0]) for part in parts)
        self.patch.print_line(" ".join(words))

    def _storage(self, kind: str, store: str | None, method: str, args: list[Any]) -> Any:
        """Run one kv/db call of the code on the box's store (or a named one) and return."""
        from ._js_engine import storage_methods

        facade = self._stores.get((kind, store))
        if facade is None:
            storage = self.patch.storage
            local = storage.kv(local=self.id) if kind == "kv" else storage.db(local=self.id)
            facade = local if store is None else local.store(store)
            self._stores[kind, store] = facade
        python_name, _, required, keywords = storage_methods()[kind][method]
        options: dict[str, Any] = {}
        if keywords:
            given = args.pop()
            if given is not None and not isinstance(given, dict):
                raise TypeError(
                    f"{kind}.{method}: options must be an object {{{', '.join(keywords)}}}"
                )
            for key, value in (given or {}).items():
                if key not in keywords:
                    raise TypeError(
                        f"{kind}.{method}: unknown option {key!r}; use {', '.join(keywords)}"
                    )
                if value is not None:
                    options[key] = value
        while len(args) > required and args[-1] is None:  # optional fields left out
            args.pop()
        return self.patch.wait(getattr(facade, python_name)(*args, **options))

    def error_line(self, exc: BaseException) -> int:
        """The patch line of the code's line the error came from (the box's, if unknown)."""
        line = getattr(exc, "line", None)
        if type(exc).__name__ == "JavaScriptError" and line and self.body_line:
            return self.body_line + line - 1
        return self.line


class ArrowMessage(Js):
    """A message box whose text is an arrow function: apply it to each message, send the result.

    Made by `[msg]` (control.py) for a text such as `x => ({set: ["count", x]})`; a result
    of `undefined` or `null` sends nothing. Everything else is as for a one-line `[js]`.
    """

    name = "msg"

    @classmethod
    def from_arrow(cls, text: str) -> ArrowMessage:
        from ._js_engine import Program

        header = f'(function (x, inlet, {_HELPERS}) {{ "use strict"; return ('
        return cls(Program(header, text.strip(), ")(x); })"))


BOXES = (Js,)
