"""Message values, JSON text and the message-box algorithm of messages.md, case by case."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from patchflow import messages
from patchflow.errors import ArgumentError, MessageError
from patchflow.messages import BANG, is_bang, message_type, parse_json5, to_json
from patchflow.render import describe
from patchflow.schemas import BUILTIN_SCHEMAS, Field, schema
from patchflow.storage import DB_COMMANDS, KV_COMMANDS
from patchflow.templates import UNSET, MessageTemplate
from patchflow.testing import exactly_equal, message_values

#: what a [msg] box feeding both a [kv] and a [db] is offered
STORES = KV_COMMANDS.schemas + DB_COMMANDS.schemas


def render(text: str, *values, schemas=()):
    return MessageTemplate.compile(text).render(list(values), schemas)


def one(text: str, *values, schemas=()):
    [message] = render(text, *values, schemas=schemas)
    return message


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [BANG, {"type": "bang"}, {"type": "bang", "from": "metro"}])
def test_is_bang_accepts_a_bang_dict_with_extra_fields(value):
    assert is_bang(value)


@pytest.mark.parametrize("value", ["bang", {"type": "Bang"}, {"op": "bang"}, ["bang"], None, 1])
def test_is_bang_rejects_everything_else_including_the_string_bang(value):
    assert not is_bang(value)


def test_message_type_is_the_string_type_of_a_dict_only():
    assert message_type({"type": "get", "key": "k"}) == "get"
    assert message_type({"type": 5}) is None
    assert message_type({"op": "get"}) is None
    assert message_type("get") is None


# -- to_json (the [print] format) ---------------------------------------------------------------


def test_to_json_shows_bytes_as_a_quoted_marker_wherever_they_are():
    assert to_json(b"abc") == '"<3 bytes>"'
    assert to_json({"a": b"abc", "b": [bytearray(2)]}) == '{"a": "<3 bytes>", "b": ["<2 bytes>"]}'


def test_to_json_keeps_unicode_and_insertion_order():
    assert to_json({"z": "é✓", "a": 1}) == '{"z": "é✓", "a": 1}'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (True, "true"),
        (None, "null"),
        ("hi", '"hi"'),
        (1.5, "1.5"),
        ((1, (2,)), "[1, [2]]"),
        (math.nan, "NaN"),
        ([math.inf, -math.inf], "[Infinity, -Infinity]"),
        ({(1, 2): 3}, '"{(1, 2): 3}"'),
    ],
)
def test_to_json_formats_scalars_tuples_and_oddities(value, text):
    assert to_json(value) == text


def test_to_json_never_raises_on_objects_or_cycles():
    class Thing:
        def __repr__(self):
            return "<thing>"

    assert to_json({"x": Thing()}) == '{"x": "<thing>"}'
    loop: list = [1]
    loop.append(loop)
    assert to_json(loop) == '"[1, [...]]"'


def test_describe_cuts_long_text_with_an_ellipsis():
    assert describe({"a": 1}) == '{"a": 1}'
    short = describe("x" * 200, limit=20)
    assert len(short) == 20 and short.endswith("…")


def test_parse_json5_parses_and_raises_value_error():
    assert parse_json5("{a: 'b', c: [1,],}") == {"a": "b", "c": [1]}
    with pytest.raises(ValueError, match="not JSON5"):
        parse_json5("{a: ")


# -- schemas ------------------------------------------------------------------------------------


def test_schema_counts_required_and_total_fields():
    s = schema("noteOff", "note", "velocity?", "time?:number")
    assert s.fields[2] == Field("time", "number", optional=True)
    assert (s.required, s.total) == (1, 3)
    assert str(s) == "noteOff{note, velocity?, time?: number}"


@pytest.mark.parametrize(
    "build",
    [
        lambda: schema("x", "a?", "b"),
        lambda: schema("x", "a", "a"),
        lambda: schema("x", "type"),
        lambda: Field("a", "str"),
    ],
)
def test_schema_rejects_bad_declarations(build):
    with pytest.raises(ValueError):
        build()


def test_builtin_schemas_are_the_common_table_of_messages_md():
    table = (
        "bang{} clear{} reset{} start{} stop{} pause{} play{} run{} expand{} collapse{} "
        "toggle{} keys{} flush{} get{key: string} set{value} set{key: string, value} "
        "setCode{value: string} setSetting{key: string, value} setMin{value: number} "
        "setMax{value: number} setDefault{value: number} setValue{value: number} "
        "load{src: string} noteOn{note, velocity, time?, channel?} "
        "noteOff{note, velocity?, time?, channel?}"
    )
    shown = [str(s) for s in BUILTIN_SCHEMAS]
    assert len(shown) == len(set(shown))
    assert sorted(shown) == sorted(re.findall(r"\w+\{[^}]*\}", table))


def test_storage_schemas_come_from_the_store_boxes_and_are_none_of_the_builtin_ones():
    # [kv]/[db] offer the schemas derived from storage's command classes to the [msg] boxes
    # that feed them; the built-in set lists no storage verb by hand
    assert [str(s) for s in STORES if s.type in ("has", "findOne", "count")] == [
        "has{key: string}",
        "findOne{collection: string, id: string}",
        "count{collection: string, query?, explain?}",
    ]
    assert not {s.type for s in BUILTIN_SCHEMAS} & {"has", "insert", "find", "setStore"}


# -- step 1: segments ---------------------------------------------------------------------------


def test_commas_split_segments_sent_in_order():
    assert render("bang, 100, 'hi'") == [BANG, 100, "hi"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{a: 1, b: 2}, [3, 4]", [{"a": 1, "b": 2}, [3, 4]]),
        ('"hello, world", 42', ["hello, world", 42]),
        ("'a, b'", ["a, b"]),
        (r'"q\", b", 1', ['q", b', 1]),
        ("setCode f(1, 2)", [{"type": "setCode", "value": "f(1, 2)"}]),
        ("`a, b`", [{"type": "`a, b`"}]),
    ],
)
def test_commas_inside_brackets_and_quotes_do_not_split(text, expected):
    assert render(text) == expected


@pytest.mark.parametrize("text", ["", "  ", ",", " , bang ,, "])
def test_empty_segments_are_dropped(text):
    assert render(text) == ([BANG] if "bang" in text else [])


@pytest.mark.parametrize(
    ("text", "slots"), [("bang", 0), ("$1", 1), ("$3 $1", 3), ("{a: $9}", 9), ("$10", 1)]
)
def test_slots_is_the_highest_placeholder(text, slots):
    assert MessageTemplate.compile(text).slots == slots


# -- step 2: placeholders -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hi", {"a": "hi"}),
        ("a b, c", {"a": "a b, c"}),
        ({"k": [1, None]}, {"a": {"k": [1, None]}}),
        ([1, "x"], {"a": [1, "x"]}),
        (None, {"a": None}),
        (2.0, {"a": 2.0}),
    ],
)
def test_placeholder_is_replaced_by_json_text_in_json5(value, expected):
    assert one("{a: $1}", value) == expected
    assert type(one("{a: $1}", value)["a"]) is type(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("hi", "hi"), ("a b", "a b"), ({"x": 1}, {"x": 1}), ([1, 2], [1, 2])],
)
def test_placeholder_json_text_fills_a_shorthand_field(value, expected):
    assert one("set count $1", value) == {"type": "set", "key": "count", "value": expected}


def test_placeholder_into_string_field_takes_strings_and_raw_numbers():
    assert one("get $1", "my key") == {"type": "get", "key": "my key"}
    assert one("get $1", 20) == {"type": "get", "key": "20"}


def test_segment_with_unfilled_placeholder_is_skipped_and_others_send():
    assert render("$1, bang") == [BANG]
    assert render("$1, bang", UNSET) == [BANG]
    assert render("$1, $2, bang", 5) == [5, BANG]
    assert render("[$1, $2]", 1) == []
    assert render("[$1, $2]", 1, "b") == [[1, "b"]]


def test_segment_that_is_only_a_placeholder_sends_the_value_itself():
    value = {"type": "bang", "n": [1]}
    assert one("$1", value) is value
    assert one("$1", b"\x00\x01") == b"\x00\x01"
    assert one("$1", "bang") == "bang"  # a string, not a bang


def test_substitution_is_one_pass_and_reaches_inside_quotes():
    assert one("[$1, $2]", "$2", 1) == ["$2", 1]
    assert one('"n=$1"', 5) == "n=5"


def test_bytes_cannot_be_put_into_text():
    with pytest.raises(MessageError, match=r"cannot put <2 bytes> into \$1"):
        render("{a: $1}", b"ab")


def deep_list(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_json5_nests_up_to_the_readers_limit():
    assert messages.JSON5_MAX_DEPTH == 32  # pyjson5's: a new version may change it
    value = one(deep_list(32))
    for _ in range(31):
        [value] = value
    assert value == []


@pytest.mark.parametrize(
    "text",
    [
        deep_list(33),
        deep_list(1000),
        "{a:" * 1000 + "1" + "}" * 1000,
        "set key " + deep_list(40),
        "[1, 2], " + deep_list(40) + ", [3]",
        "[" * 40 + "not json at all",
    ],
)
def test_json5_nested_too_deep_is_a_creation_error_not_a_word(text):
    # it used to be sent as {type: TEXT}, hiding the mistake
    with pytest.raises(ArgumentError, match=r"more than 32 levels deep.*nest it less deeply"):
        MessageTemplate.compile(text)


@pytest.mark.parametrize("text", ["[[[", "[1, 2", "{a:", "[x]"])
def test_text_that_only_starts_like_json5_is_still_a_word(text):
    assert one(text) == {"type": text}


def test_a_placeholder_that_makes_text_too_deep_is_a_message_error():
    value = json.loads(deep_list(32))
    assert one("$1", value) is value  # passed through, never read as text
    assert one("{a: $1}", json.loads(deep_list(31))) == {"a": json.loads(deep_list(31))}
    with pytest.raises(MessageError, match=r"'{a: \[\[.*more than 32 levels deep"):
        render("{a: $1}", value)
    with pytest.raises(MessageError, match="more than 32 levels deep"):
        render("set key $1", json.loads(deep_list(40)))  # from [py], say


def test_parse_json5_too_deep_is_an_argument_error_not_a_syntax_complaint():
    with pytest.raises(ArgumentError, match="more than 32 levels deep"):
        parse_json5(deep_list(33))


# -- step 3: resolution -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", 100),
        ("'hi'", "hi"),
        ('"hi"', "hi"),
        ("true", True),
        ("null", None),
        ('{type: "get", key: "count"}', {"type": "get", "key": "count"}),
        ("[1, 2]", [1, 2]),
        ("{a: 1, /* c */ b: [2,],}", {"a": 1, "b": [2]}),
        ("0x10", 16),
        ("Infinity", math.inf),
    ],
)
def test_a_whole_json5_segment_sends_its_value(text, expected):
    assert one(text) == expected


@pytest.mark.parametrize("word", ["bang", "clear", "anything", "setCode"])
def test_one_bare_word_sends_a_typed_message(word):
    assert one(word) == {"type": word}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo 1 2", [{"type": "foo"}, 1, 2]),
        ("100 200", [100, 200]),
        ('1 "a b" [2, 3] bar', [1, "a b", [2, 3], {"type": "bar"}]),
        ("set count 5 6", [{"type": "set"}, {"type": "count"}, 5, 6]),
        ("noteOn 60", [{"type": "noteOn"}, 60]),
        ("bang 1", [{"type": "bang"}, 1]),
        ("100 a=1", [100, {"type": "a=1"}]),
    ],
)
def test_tokens_without_a_shorthand_send_a_list(text, expected):
    assert one(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("get count", {"type": "get", "key": "count"}),
        ("set count 5", {"type": "set", "key": "count", "value": 5}),
        ("set 1", {"type": "set", "value": 1}),
        (
            'insert notes {text: "hi"}',
            {"type": "insert", "collection": "notes", "doc": {"text": "hi"}},
        ),
        (
            'find notes {author: "poom"}',
            {"type": "find", "collection": "notes", "query": {"author": "poom"}},
        ),
        ("setCode print(1) + 2", {"type": "setCode", "value": "print(1) + 2"}),
        ("noteOn 60 100", {"type": "noteOn", "note": 60, "velocity": 100}),
        ("get 20", {"type": "get", "key": "20"}),
    ],
)
def test_shorthand_examples_of_messages_md(text, expected):
    assert one(text, schemas=STORES) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("set value=1", {"type": "set", "value": 1}),
        ("set key=foo value=42", {"type": "set", "key": "foo", "value": 42}),
        ("set value=42 key=foo", {"type": "set", "value": 42, "key": "foo"}),
        ("foo a=1 b=x c={d: [1]}", {"type": "foo", "a": 1, "b": "x", "c": {"d": [1]}}),
        ('setCode value="a b"', {"type": "setCode", "value": "a b"}),
        ("get key=20", {"type": "get", "key": "20"}),
    ],
)
def test_all_named_shorthand_works_for_any_name(text, expected):
    message = one(text)
    assert message == expected and list(message) == list(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("set foo value=42", {"type": "set", "key": "foo", "value": 42}),
        ("set value=42 foo", {"type": "set", "key": "foo", "value": 42}),
        ("noteOn 60 velocity=9", {"type": "noteOn", "note": 60, "velocity": 9}),
    ],
)
def test_named_tokens_fill_fields_next_to_positional_ones(text, expected):
    message = one(text)
    assert message == expected and list(message) == list(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("noteOff 60", {"type": "noteOff", "note": 60}),
        ("noteOn 60 100 0.5", {"type": "noteOn", "note": 60, "velocity": 100, "time": 0.5}),
        (
            "noteOn 60 100 0.5 2",
            {"type": "noteOn", "note": 60, "velocity": 100, "time": 0.5, "channel": 2},
        ),
    ],
)
def test_optional_fields_take_extra_positional_tokens(text, expected):
    assert one(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("delete count", {"type": "delete", "key": "count"}),
        ("delete notes abc", {"type": "delete", "collection": "notes", "id": "abc"}),
        ("find notes", {"type": "find", "collection": "notes"}),
        ("findOne notes 123", {"type": "findOne", "collection": "notes", "id": "123"}),
        ("has 7", {"type": "has", "key": "7"}),
        ("setMax 10", {"type": "setMax", "value": 10}),
        ("set count hello", {"type": "set", "key": "count", "value": "hello"}),
    ],
)
def test_positional_count_selects_the_schema(text, expected):
    assert one(text, schemas=STORES) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [("get 20", "20"), ("get true", "true"), ('get "my key"', "my key"), ("get 'k'", "k")],
)
def test_string_fields_take_tokens_raw_and_unquote_strings(text, key):
    assert one(text) == {"type": "get", "key": key}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("get my key", {"type": "get", "key": "my key"}),
        ("load my file.wav", {"type": "load", "src": "my file.wav"}),
        ("setCode a  +\n  b", {"type": "setCode", "value": "a  +\n  b"}),
        (
            "findOne notes a b",
            {"type": "findOne", "collection": "notes", "id": "a b"},
        ),
    ],
)
def test_a_last_string_field_takes_the_rest_of_the_text_as_written(text, expected):
    assert one(text, schemas=STORES) == expected


def test_schemas_of_wired_boxes_come_before_builtins():
    wired = (schema("get", "key"), schema("volume", "level:number"), schema("set", "amount"))
    assert one("get 20", schemas=wired) == {"type": "get", "key": 20}
    assert one("volume 3", schemas=wired) == {"type": "volume", "level": 3}
    assert one("set 1", schemas=wired) == {"type": "set", "amount": 1}
    assert one("set count 5", schemas=wired) == {"type": "set", "key": "count", "value": 5}


def test_constant_shorthand_follows_the_schemas_of_each_render():
    template = MessageTemplate.compile("get 20")
    wired = (schema("get", "key"),)
    assert template.render([], wired) == [{"type": "get", "key": 20}]
    assert template.render([]) == [{"type": "get", "key": "20"}]
    assert template.render([], list(wired)) == [{"type": "get", "key": 20}]


def test_constant_segments_are_resolved_once_and_shared(monkeypatch):
    template = MessageTemplate.compile("{a: [1]}, bang, get count, foo 1 2")
    wired = (schema("foo", "x", "y"),)
    first = template.render([], wired)
    monkeypatch.setattr(messages, "_try_json5", lambda text: pytest.fail(f"parsed {text!r}"))
    again = template.render([], wired)
    assert again == [
        {"a": [1]},
        BANG,
        {"type": "get", "key": "count"},
        {"type": "foo", "x": 1, "y": 2},
    ]
    assert all(a is b for a, b in zip(first, again, strict=True))


# -- properties ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a, b) -> bool:
    """Equal including int/float/bool kinds (1 == 1.0 == True in Python, not in JSON)."""
    return json.dumps(a) == json.dumps(b)


@given(json_values)
def test_a_value_round_trips_through_placeholders(value):
    assert MessageTemplate.compile("$1").render([value]) == [value]
    # through JSON text: ints stay ints and floats floats, because json.dumps writes `1.0`
    assert same(MessageTemplate.compile("[$1]").render([value]), [[value]])
    assert same(MessageTemplate.compile("{v: $1}, 0").render([value]), [{"v": value}, 0])


@given(json_values, st.booleans())
def test_json_text_compiles_to_its_value(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assume(not re.search(r"\$[1-9]", text))  # placeholders are replaced even inside strings
    assert same(MessageTemplate.compile(text).render([]), [value])


@given(json_values)
def test_to_json_is_json_dumps_for_json_values(value):
    assert to_json(value) == json.dumps(value, ensure_ascii=False)


template_words = st.sampled_from(
    ["set", "get", "count", "$1", "$2", "{a: $1}", "'x y'", "foo", "key=$2", "k=1", "5", "[$2]"]
)


@given(
    st.lists(template_words, min_size=1, max_size=5),
    st.sampled_from([" ", "  ", "\n "]),
    st.lists(json_values, max_size=2),
)
def test_precomputed_token_layout_resolves_like_the_substituted_text(words, gap, values):
    text = gap.join(["setCode" if words[0].startswith("$") else words[0], *words[1:]])
    expected = []
    if all(f"${n}" not in text for n in range(len(values) + 1, 10)):
        substituted = re.sub(
            r"\$([1-9])", lambda m: json.dumps(values[int(m[1]) - 1], ensure_ascii=False), text
        )
        expected = [messages._resolve_text(substituted, messages._index(()))]
    assert same(MessageTemplate.compile(text).render(values), expected)


@given(st.text())
def test_quick_json5_rejection_agrees_with_the_parser(text):
    try:
        expected = parse_json5(text)
    except ArgumentError:  # too deep: both raise
        with pytest.raises(MessageError):
            messages._try_json5(text)
        return
    except ValueError:
        expected = "not JSON5"
    result = messages._try_json5(text)
    assert same(expected, "not JSON5" if result is messages._NOT_JSON5 else result)


# -- values placed where `$n` stands for a whole value (templates.py) ---------------------------

DEEP_VALUES = [json.loads(deep_list(n)) for n in (30, 31, 32, 33)] + [(1, 2), {1: 2}]

json5_leaves = st.sampled_from(
    [
        "$1", "$2", "$1", "5", "-1.5", '"s"', "'a $1 b'", '"$2"', "-$1", "+$1", "$1e3", "true",
        "null", "[]", "{}", "/*c*/ $1", "$2 /*c*/", "Infinity", "0x$1", "[$1$2]",
    ]
)  # fmt: skip
json5_keys = st.sampled_from(["a", '"b c"', "$1", "'k$2'", "type", "value"])
json5_templates = st.recursive(
    json5_leaves,
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
        | st.lists(st.tuples(json5_keys, inner), max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
        )
    ),
    max_leaves=6,
)
shorthand_templates = st.builds(
    lambda head, rest: " ".join([head, *rest]),
    st.sampled_from(["set", "get", "insert", "find", "update", "delete", "foo", "log", "use"]),
    st.lists(
        st.sampled_from(["count", "notes", "$1", "$2", "$1", "key=$2", "k=1", "5", "a=$1x"])
        | json5_templates,
        min_size=1,
        max_size=4,
    ),
)
segment_templates = json5_templates | shorthand_templates | st.sampled_from(["bang", "$1", "7"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(segment_templates, min_size=1, max_size=3).map(", ".join),
    st.lists(message_values(max_leaves=8) | st.sampled_from(DEEP_VALUES), max_size=2),
    st.sampled_from([(), STORES]),
)
def test_placed_values_give_exactly_what_text_substitution_gives(text, values, schemas):
    try:
        template = MessageTemplate.compile(text)
    except ArgumentError:
        return  # a constant nested too deep: no template to fill
    kept = template.renderer(schemas)  # what a message box keeps: the same as `render`
    outcomes = []
    for render in (template.render, lambda values, _: kept(values), template.render_text):
        try:
            outcomes.append(render(values, schemas))
        except MessageError as error:
            outcomes.append(f"MessageError: {error}")
    placed, by_kept, by_text = outcomes
    assert by_kept == placed if isinstance(placed, str) else exactly_equal(by_kept, placed)
    if isinstance(by_text, str):
        assert placed == by_text
    else:
        assert not isinstance(placed, str), placed
        assert exactly_equal(placed, by_text)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("set count $1", [5], {"type": "set", "key": "count", "value": 5}),
        ("{a: $1, b: [$2, 1]}", [[1.5], {"x": None}], {"a": [1.5], "b": [{"x": None}, 1]}),
        ("[$1, 2]", ["s"], ["s", 2]),
        ("get $1", [7], {"type": "get", "key": "7"}),  # a string field: the value's JSON text
    ],
)
def test_a_whole_value_placeholder_is_compiled_to_place_the_value(text, values, expected):
    template = MessageTemplate.compile(text)
    [segment] = template._segments
    assert segment.plan(messages._index(STORES)) is not None
    assert template.render(values, STORES) == [expected]
    assert exactly_equal(template.render(values, STORES), [expected])


@pytest.mark.parametrize(
    "text", ['"n=$1"', "[-$1]", "{$1: 1}", "[$1e3]", "set count a$1", "[/*c*/$1]", "['x $1']"]
)
def test_a_placeholder_inside_text_or_a_token_is_filled_by_text(text):
    [segment] = MessageTemplate.compile(text)._segments
    assert segment.plan(messages._index(STORES)) is None


def test_a_constant_token_too_deep_beside_a_placeholder_is_still_a_render_error():
    template = MessageTemplate.compile("set key " + deep_list(40) + " $1")
    with pytest.raises(MessageError, match="more than 32 levels deep"):
        template.render([1])
