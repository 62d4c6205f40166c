"""Sources and sinks: where messages come from and where they leave the patch."""

from __future__ import annotations

from typing import Any

from patchflow import BANG, UNSET, ArgumentError, Box, MessageTemplate, to_json


class Loadbang(Box):
    """Send one bang after the patch is built.

    Every `[loadbang]` fires once, in file order, after all boxes are created and wired.

    Arguments:
        none

    Inlets:
        none

    Outlets:
        0: a bang ({"type": "bang"})

    Example:
        [loadbang] -> [msg hello] -> [print]
    """

    name = "loadbang"

    def __init__(self) -> None:
        super().__init__(inlets=0, outlets=1)

    def loadbang(self) -> None:
        self.send(BANG)


class Print(Box):
    """Write each message to standard output as `LABEL: VALUE`.

    VALUE is the message as JSON (keys in insertion order, non-ASCII kept, bytes shown as
    `<N bytes>`); one line per message, flushed at once.

    Arguments:
        label: the text before the colon (default `print`)

    Inlets:
        0: any message

    Outlets:
        none

    Example:
        [loadbang] -> [msg {a: 1}] -> [print result]
    """

    name = "print"

    def __init__(self, label: str = "print") -> None:
        super().__init__(inlets=1, outlets=0)
        self.label = label

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Print:
        return cls(args.strip() or "print")

    def receive(self, inlet: int, message: Any) -> None:
        self.patch.print_line(f"{self.label}: {to_json(message)}")


class Stdin(Box):
    """Send each line of standard input, then a bang at the end of input.

    An open `[stdin]` keeps the patch from being idle until the input ends.

    Arguments:
        json: parse each line as JSON (a bad line is reported and skipped)

    Inlets:
        none

    Outlets:
        0: each line as a string (without its line ending), or its JSON value with `json`
        1: a bang at the end of input

    Example:
        [stdin] -> [print line]
    """

    name = "stdin"

    def __init__(self, json: bool = False) -> None:
        super().__init__(inlets=0, outlets=2)
        self.json = json

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Stdin:
        words = args.split()
        if words not in ([], ["json"]):
            raise ArgumentError(f"expected nothing or 'json'; got {args.strip()!r}")
        return cls(json=bool(words))

    def start(self) -> None:
        self.patch.read_lines(self, self._line, self._end)

    def _line(self, text: str) -> None:
        if self.json:
            import json

            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"line is not JSON ({exc}): {text[:60]!r}") from None
            self.send(value)
        else:
            self.send(text)

    def _end(self) -> None:
        self.send(BANG, 1)


class Msg(Box):
    """The message box: send the messages its text describes, with `$1`…`$9` filled in.

    The text is split at top-level commas into segments, each sending one message: JSON5
    (`{type: "get", key: "count"}`, `[1, 2]`, `'hi'`, `42`), shorthand (`get count` →
    `{type: "get", key: "count"}`, using the schemas of the boxes it is wired to first), a
    list of tokens, or one bare word `w` → `{type: "w"}` (so `bang` sends a bang). `$n` is
    replaced by the JSON text of the value stored for inlet n-1; a segment with an unfilled
    placeholder is skipped. The text may be given as an indented body instead. A text that is
    a JavaScript arrow function (`x => ({set: ["count", x]})`) is applied to each message
    and its result sent, as a one-line `[js]` does.

    Arguments:
        text: the message text (or an indented body)

    Inlets:
        0: a bang or null fires the box without storing; `{type: "set", value: v}` replaces
           the text (a non-string `v` becomes its JSON5 text) and sends nothing; anything
           else is stored as `$1` and fires the box
        1…8: (one per `$2`…`$9` used) store `$2`…`$9` without sending

    Outlets:
        0: the messages, one per segment, in order

    Example:
        [loadbang] -> [msg get count, set count 5] -> [print]
    """

    name = "msg"
    aliases = ("m",)
    takes_body = True

    def __init__(self, text: str) -> None:
        self.template = MessageTemplate.compile(text)
        super().__init__(inlets=max(1, self.template.slots), outlets=1)
        self.values: list[Any] = [UNSET] * max(1, self.template.slots)
        self._schemas: tuple = ()
        self._bind_renderer()

    @classmethod
    def from_text(cls, args: str, body: str | None = None) -> Msg:
        if body is not None and args.strip():
            raise ArgumentError("give the message text inline or as a body, not both")
        text = body if body is not None else args
        from .js import ArrowMessage, is_arrow_function  # light: the engine loads only if used

        if is_arrow_function(text):  # `x => ({set: ["count", x]})` applies a JS function
            return ArrowMessage.from_arrow(text)  # type: ignore[return-value]
        return cls(text)

    def start(self) -> None:
        self._gather_schemas()

    def _gather_schemas(self) -> None:
        # Shorthand prefers the schemas of the boxes this message box feeds (messages.md).
        seen: dict[int, Any] = {}
        for target in self.receivers():
            for schema in target.schemas:
                seen.setdefault(id(schema), schema)
        if self.template.uses_shorthand:
            # Storage's commands are built-in shorthand too, wherever the box is wired (through
            # [t a] or [send] as well). Loaded only here: a patch without shorthand never pays
            # for importing storage.
            from patchflow import DB_COMMANDS, KV_COMMANDS

            for schema in (*KV_COMMANDS.schemas, *DB_COMMANDS.schemas):
                seen.setdefault(id(schema), schema)
        self._schemas = tuple(seen.values())
        self._bind_renderer()

    def _bind_renderer(self) -> None:
        # The renderer for the wired schemas, kept (not looked up per fire); and a text
        # without `$n`, whose messages never change (`get count`, `bang`), rendered once.
        self._render = self.template.renderer(self._schemas)
        self._constant = None if self.template.slots else tuple(self._render(()))

    def receive(self, inlet: int, message: Any) -> None:
        # A message box fires on the hot path of most patches (twice per README counter
        # cascade), and a hop costs what its Python calls do: the bang and `set` tests share
        # one dict lookup, the messages are rendered by the kept renderer, or not at all
        # (`_bind_renderer`), and go to the outlet's sender itself (box.py, `send`).
        if inlet:
            self.values[inlet] = message
            return
        if message is not None:
            if isinstance(message, dict):
                kind = message.get("type")
                if kind == "set" and "value" in message:
                    self._set_text(message["value"])
                    return
                if kind != "bang":
                    self.values[0] = message
            else:
                self.values[0] = message
        send = self._outlets[0]
        messages = self._constant
        for value in self._render(self.values) if messages is None else messages:
            send(value)

    def _set_text(self, value: Any) -> None:
        if not isinstance(value, str):
            value = to_json(value)
        template = MessageTemplate.compile(value)
        if template.slots > self.inlets:
            raise ValueError(
                f"new text uses ${template.slots} but this box has {self.inlets} inlet(s)"
            )
        self.template = template
        self._gather_schemas()  # the new text may use shorthand the old did not


BOXES = (Loadbang, Print, Stdin, Msg)
