"""Dumps (`storage/dump.py`): values survive JSON exactly, export → import reproduces a patch's
data exactly, and a bad dump changes nothing."""

from __future__ import annotations

import io
import json
import math
import struct

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from patchflow.storage import SPACES, LmdbBackend, MemoryBackend, StoreRef, open_storage
from patchflow.storage.layout import codec, inventory
from patchflow.storage.layout import keys as layout
from patchflow.storage.tools import dump as dumps
from patchflow.testing import exactly_equal, message_values

MARKER_KEYS = st.sampled_from(["$bytes", "$float", "$escape", "$other", "bytes"])
values = message_values(extra_keys=MARKER_KEYS, max_size=4, max_leaves=20)
names = st.text(
    st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), min_size=1, max_size=8
)
stores = st.builds(StoreRef, st.sampled_from(["local", "named"]), names)


same = exactly_equal


# ---- values ---------------------------------------------------------------------------------


@given(values)
def test_every_stored_value_survives_json_with_markers_exactly(value):
    text = json.dumps(dumps.encode_value(value), allow_nan=False)
    assert same(dumps.decode_value(json.loads(text)), value)


def test_markers_spell_bytes_odd_floats_and_dicts_that_look_like_markers():
    assert dumps.encode_value(b"\x00\xff") == {"$bytes": "AP8="}
    assert dumps.encode_value([math.inf, -math.inf]) == [{"$float": "inf"}, {"$float": "-inf"}]
    assert dumps.encode_value({"$bytes": "AP8="}) == {"$escape": {"$bytes": "AP8="}}
    assert dumps.encode_value({"$bytes": b"x"}) == {"$escape": {"$bytes": {"$bytes": "eA=="}}}
    assert dumps.encode_value({"$bytes": 1, "a": 2}) == {"$bytes": 1, "a": 2}  # two keys: plain
    assert dumps.decode_value({"$escape": {"$float": "nan"}}) == {"$float": "nan"}


@pytest.mark.parametrize("bits", ["7ff8000000000000", "fff8000000000000", "7ff0000000000001"])
def test_a_nan_keeps_its_sign_and_payload_bits(bits):
    nan = struct.unpack(">d", bytes.fromhex(bits))[0]
    back = dumps.decode_value(json.loads(json.dumps(dumps.encode_value(nan))))
    assert struct.pack(">d", back).hex() == bits


@pytest.mark.parametrize(
    "bad",
    [
        {"$bytes": "not base64!"},
        {"$bytes": 3},
        {"$float": "NaN"},
        {"$float": 1.5},
        {"$float": "nan:3ff0000000000000"},  # 1.0: not a NaN
        {"$escape": 1},
    ],
)
def test_a_bad_marker_is_a_value_error(bad):
    with pytest.raises(ValueError, match=r"\$"):
        dumps.decode_value([bad])


# ---- export and import ----------------------------------------------------------------------

kv_entries = st.lists(st.tuples(stores, st.text(max_size=12), values), max_size=8)
# user fields: anything but `_id`, which the db always sets to a string
user_docs = st.dictionaries(
    st.text(max_size=6).filter(lambda key: key != "_id") | MARKER_KEYS, values, max_size=3
)
collections = st.lists(
    st.tuples(stores, names, st.lists(user_docs, max_size=4), st.integers(0, 3)), max_size=3
)


def fill(backend, kv, colls) -> None:
    """Write kv keys and collections straight into the key layout (not through dump.py)."""

    def write(txn):
        for store, key, value in kv:
            txn.put("kv", store.prefix + key.encode(), codec.encode(value))
        for store, name, docs, gap in colls:
            coll = name.encode()
            seq = layout.decode_seq(
                txn.get("collections", layout.collection_key(store, coll)) or b""
            )
            for number, user in enumerate(docs):
                seq += 1 + gap  # deleted documents leave gaps in the sequence
                doc_id = f"id-{seq}-{number}"
                doc = {"_id": doc_id, "_created": 5, "_updated": 6 + number, **user}
                txn.put("docs", layout.doc_key(store, coll, seq), codec.encode(doc))
                txn.put("ids", layout.id_key(store, coll, doc_id.encode()), layout.encode_seq(seq))
            txn.put("collections", layout.collection_key(store, coll), layout.encode_seq(seq))

    backend.write(write)


def contents(backend) -> tuple[list, list]:
    """Every kv entry (raw) and every collection with its decoded docs, in order."""

    def read(txn):
        kv = list(txn.scan("kv", b""))
        colls = [
            (key, [codec.decode(doc) for _, doc in txn.scan("docs", key + b"\0")])
            for key, _ in txn.scan("collections", b"")
        ]
        return kv, colls

    return backend.read(read)


def export_bytes(backend, patch_id="source") -> bytes:
    out = io.BytesIO()
    dumps.export_dump(backend, patch_id, out)
    return out.getvalue()


@settings(max_examples=60, deadline=None)
@given(kv=kv_entries, colls=collections)
def test_export_then_import_into_another_patch_reproduces_the_data_exactly(kv, colls):
    source, target = MemoryBackend(SPACES), MemoryBackend(SPACES)
    try:
        fill(source, kv, colls)
        dumped = export_bytes(source)
        result = dumps.import_dump(target, io.BytesIO(dumped), "dump.jsonl")
        (kv_a, colls_a), (kv_b, colls_b) = contents(source), contents(target)
        assert kv_a == kv_b  # same keys, same msgpack bytes: same values and types
        assert [key for key, _ in colls_a] == [key for key, _ in colls_b]
        for (_, docs_a), (_, docs_b) in zip(colls_a, colls_b, strict=True):
            assert same(docs_a, docs_b)  # the same documents in the same (insertion) order
        assert result.keys == len(kv_a)
        assert export_bytes(target) == dumped
    finally:
        source.close()
        target.close()


@pytest.fixture
def seeded(backend):
    """A backend holding kv keys in a local and a named store and a collection of three docs."""
    fill(
        backend,
        [(StoreRef.local("kv-1"), "count", 3), (StoreRef.named("s"), "blob", b"\x00\x01")],
        [(StoreRef.local("history"), "runs", [{"n": 1}, {"n": 2}, {"n": 3}], 0)],
    )
    return backend


def test_a_dump_has_a_header_records_in_key_order_and_an_end_line(seeded):
    lines = [json.loads(line) for line in export_bytes(seeded, "demo").splitlines()]
    now = layout.FORMAT_VERSION
    assert lines[0] == {"patchflow": "dump", "format": 1, "patch": "demo", "storage_format": now}
    assert lines[1] == {"kind": "kv", "store": {"local": "kv-1"}, "key": "count", "value": 3}
    assert lines[2]["store"] == {"name": "s"} and lines[2]["value"] == {"$bytes": "AAE="}
    assert lines[3] == {"kind": "collection", "store": {"local": "history"}, "collection": "runs"}
    assert [line["doc"]["n"] for line in lines[4:7]] == [1, 2, 3]
    assert lines[-1] == {"patchflow": "end", "records": 6}


def test_export_reports_progress_in_records(seeded):
    seen = []
    dumps.export_dump(seeded, "demo", io.BytesIO(), progress=lambda *done: seen.append(done))
    assert seen[-1] == (6, 6)


def test_import_merges_by_default_and_replaces_documents_with_the_same_id(seeded):
    dumped = export_bytes(seeded)
    fill(seeded, [(StoreRef.local("kv-1"), "extra", "kept")], [])

    def edit(txn):  # the dump's copy of doc 2 will overwrite this one, in its place
        key = layout.doc_key(StoreRef.local("history"), b"runs", 2)
        txn.put("docs", key, codec.encode({"_id": "id-2-1", "changed": True}))

    seeded.write(edit)
    dumps.import_dump(seeded, io.BytesIO(dumped), "d")
    kv, colls = contents(seeded)
    assert len(kv) == 3  # the two dumped keys and the extra one
    assert [doc["n"] for doc in colls[0][1]] == [1, 2, 3]


def test_import_appends_new_documents_after_existing_ones_so_seqs_never_collide(seeded):
    other = MemoryBackend(SPACES)
    try:
        fill(other, [], [(StoreRef.local("history"), "runs", [{"n": 10}, {"n": 11}], 0)])
        dumped = export_bytes(other).replace(b'"id-', b'"new-')  # new ids: appended
        dumps.import_dump(seeded, io.BytesIO(dumped), "d")
    finally:
        other.close()
    _, colls = contents(seeded)
    assert [doc["n"] for doc in colls[0][1]] == [1, 2, 3, 10, 11]
    last = seeded.get("collections", layout.collection_key(StoreRef.local("history"), b"runs"))
    assert layout.decode_seq(last) == 5


def test_import_with_replace_clears_every_store_first(seeded):
    small = b'{"patchflow": "dump", "format": 1, "patch": "x", "storage_format": 1}\n'
    small += b'{"kind": "kv", "store": {"name": "only"}, "key": "k", "value": 1}\n'
    small += b'{"patchflow": "end", "records": 1}\n'
    dumps.import_dump(seeded, io.BytesIO(small), "d", replace=True)
    kv, colls = contents(seeded)
    assert [key for key, _ in kv] == [StoreRef.named("only").prefix + b"k"] and colls == []


GOOD = [
    '{"patchflow": "dump", "format": 1, "patch": "x", "storage_format": 1}',
    '{"kind": "kv", "store": {"local": "a"}, "key": "k", "value": 1}',
    '{"kind": "doc", "store": {"name": "s"}, "collection": "c",'
    ' "doc": {"_id": "d1", "_created": 5, "_updated": 6}}',
    '{"patchflow": "end", "records": 2}',
]


@pytest.mark.parametrize(
    ("lines", "where", "message"),
    [
        ([], 1, "empty file"),
        (["[1, 2]", *GOOD[1:]], 1, "not a patchflow dump"),
        ([GOOD[0].replace('"format": 1', '"format": 9'), *GOOD[1:]], 1, "newer patchflow"),
        (GOOD[:3], 4, "truncated"),
        ([*GOOD[:2], GOOD[2][:30]], 3, "not valid JSON"),
        ([GOOD[0], '{"kind": "kv", "store": {"local": "a"}, "key": "k"}', *GOOD[2:]], 2, "value"),
        ([GOOD[0], GOOD[1].replace('"kv"', '"kx"'), *GOOD[2:]], 2, "unknown record kind"),
        ([GOOD[0], GOOD[1].replace('"local"', '"box"'), *GOOD[2:]], 2, '"store" must be'),
        ([GOOD[0], GOOD[1].replace("1}", '{"$bytes": "!"}}'), *GOOD[2:]], 2, "base64"),
        ([GOOD[0], GOOD[1].replace("1}", f"{2**64}}}"), *GOOD[2:]], 2, "64-bit range"),
        ([*GOOD[:2], GOOD[2].replace('"_id"', '"id"'), GOOD[3]], 3, '"_id" string'),
        ([GOOD[0].replace('"format": 1', '"format": 0'), *GOOD[1:]], 1, "unknown dump format 0"),
        ([GOOD[0].replace('"format": 1', '"format": true'), *GOOD[1:]], 1, "as integers"),
        ([GOOD[0].replace('"format": 1', '"format": 1.0'), *GOOD[1:]], 1, "as integers"),
        ([GOOD[0].replace('"storage_format": 1', '"storage_format": 0'), *GOOD[1:]], 1, "unknown"),
        ([*GOOD[:2], GOOD[2].replace("5", '"5"'), GOOD[3]], 3, '"_created" as an integer'),
        ([*GOOD[:2], GOOD[2].replace("6", "6.0"), GOOD[3]], 3, '"_updated" as an integer'),
        ([*GOOD[:2], GOOD[2].replace("6", "true"), GOOD[3]], 3, '"_updated" as an integer'),
        ([*GOOD[:2], GOOD[2].replace(', "_updated": 6', ""), GOOD[3]], 3, "not none"),
        (
            [*GOOD[:3], GOOD[2].replace("5", "7"), GOOD[3].replace("2", "3")],
            4,
            r'duplicate _id "d1" \(first at line 3\)',
        ),
        (
            [GOOD[0], GOOD[1].replace("1}", "[" * 100_000 + "]" * 100_000 + "}"), *GOOD[2:]],
            2,
            "nested deeper than 256 levels",
        ),
        (
            [GOOD[0], GOOD[1].replace("1}", "[" * 300 + "]" * 300 + "}"), *GOOD[2:]],
            2,
            "nested more than 256 levels",
        ),
        ([*GOOD[:3], '{"patchflow": "end", "records": 3}'], 4, "bad end line"),
        ([*GOOD, GOOD[1]], 5, "after the dump's end line"),
    ],
)
def test_a_bad_line_aborts_the_import_and_changes_nothing(seeded, lines, where, message):
    before = contents(seeded)
    text = "".join(line + "\n" for line in lines).encode()
    with pytest.raises(dumps.DumpError, match=message) as caught:
        dumps.import_dump(seeded, io.BytesIO(text), "dump.jsonl", replace=True)
    assert (caught.value.file, caught.value.line) == ("dump.jsonl", where)
    assert str(caught.value).startswith(f"dump.jsonl:{where}: ")
    assert contents(seeded) == before


def test_a_doc_without_a_string_id_is_a_bad_line_shown_with_its_bytes_as_sizes(seeded):
    doc = (
        '{"kind": "doc", "store": {"name": "s"}, "collection": "c", "doc": {"_id": {"$bytes": ""}}}'
    )
    text = "\n".join([GOOD[0], doc, '{"patchflow": "end", "records": 1}', ""]).encode()
    with pytest.raises(dumps.DumpError, match=r'd:2: "doc" must be .* \{"_id": "<0 bytes>"\}'):
        dumps.import_dump(seeded, io.BytesIO(text), "d")


def test_bytes_that_are_not_utf8_are_a_bad_line(seeded):
    text = (GOOD[0] + "\n").encode() + b'{"kind": "\xff"}\n'
    with pytest.raises(dumps.DumpError, match=r"d:2: not UTF-8"):
        dumps.import_dump(seeded, io.BytesIO(text), "d")


class Pipe(io.RawIOBase):
    """A stream that cannot seek, as standard input from a pipe."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_an_unseekable_dump_is_spooled_so_the_import_can_run_again(tmp_path):
    """A map far too small for the dump: the import restarts after each growth, from line 1."""
    record = '{"kind": "kv", "store": {"name": "s"}, "key": "k%05d", "value": "%s"}'
    records = [record % (i, "x" * 500) for i in range(2000)]
    text = "\n".join([GOOD[0], *records, '{"patchflow": "end", "records": 2000}', ""]).encode()
    backend = LmdbBackend(tmp_path / "env", SPACES, initial_map_size=64 << 10)
    try:
        result = dumps.import_dump(backend, io.BufferedReader(Pipe(text)), "<stdin>")
        assert result.keys == 2000
        assert inventory.totals(backend).keys == 2000
        assert backend.map_size > 1 << 20  # it grew, so the transaction ran more than once
    finally:
        backend.close()


def test_documents_inserted_through_db_export_and_import_like_any_other(tmp_path):
    async def scenario():
        with open_storage("a", tmp_path) as first, open_storage("b", tmp_path) as second:
            db = first.db(name="notes")
            await db.insert("n", {"text": "hi", "blob": b"\x00"})
            await db.insert("n", {"text": "there"})
            out = io.BytesIO()
            dumps.export_dump(first.backend, "a", out)
            dumps.import_dump(second.backend, io.BytesIO(out.getvalue()), "d")
            copy = second.db(name="notes")
            assert await copy.find("n") == await db.find("n")
            new_id = await copy.insert("n", {"text": "later"})
            assert [doc["_id"] for doc in await copy.find("n")][-1] == new_id
            assert await copy.count("n") == 3

    trio.run(scenario)


def test_the_deepest_storable_value_round_trips_even_with_a_marker_at_every_level():
    deepest = b"\x00"
    for _ in range(codec.MAX_DEPTH):
        deepest = {"$bytes": deepest}  # each level is escaped: two JSON levels per level
    codec.encode(deepest)  # storable
    with pytest.raises(codec.UnstorableValue, match="nested more than"):
        codec.encode([deepest])
    source, target = MemoryBackend(SPACES), MemoryBackend(SPACES)
    try:
        fill(source, [(StoreRef.named("s"), "deep", deepest)], [])
        dumps.import_dump(target, io.BytesIO(export_bytes(source)), "d")
        assert contents(target) == contents(source)
    finally:
        source.close()
        target.close()


def test_a_document_nested_100000_deep_is_a_bad_line_not_a_recursion_error(seeded):
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    doc = GOOD[2].replace('"_updated": 6}', f'"_updated": 6, "deep": {deep}}}')
    text = "".join(line + "\n" for line in [*GOOD[:2], doc, GOOD[3]]).encode()
    with pytest.raises(dumps.DumpError, match=r"^d:3: a value nested deeper than 256 levels"):
        dumps.import_dump(seeded, io.BytesIO(text), "d")


def test_the_same_id_in_another_collection_or_store_is_no_duplicate(seeded):
    doc = GOOD[2]
    lines = [
        GOOD[0],
        doc,
        doc.replace('"c"', '"other"'),
        doc.replace('"name": "s"', '"local": "s"'),
        '{"patchflow": "end", "records": 3}',
    ]
    text = "".join(line + "\n" for line in lines).encode()
    assert dumps.import_dump(seeded, io.BytesIO(text), "d").documents == 3
