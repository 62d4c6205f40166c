"""The backend protocols' contract (`storage/backend.py`), run against every backend: each entry
of `LOCATIONS` in conftest.py. The transactions of one patch's `Backend`, then the
administration of a `StorageLocation` that `patchflow data` relies on."""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchflow.errors import StorageError
from patchflow.storage import MAX_KEY_BYTES, SPACES, StorageBusy
from patchflow.storage.backends.protocol import Unsupported


def put_all(backend, space, items):
    def fn(txn):
        for key, value in items:
            txn.put(space, key, value)

    backend.write(fn)


def scan(backend, space, prefix, **options):
    return backend.read(lambda txn: list(txn.scan(space, prefix, **options)))


def test_a_missing_key_reads_as_none(backend):
    assert backend.read(lambda txn: txn.get("kv", b"nothing")) is None


def test_a_written_value_reads_back_and_can_be_replaced(backend):
    put_all(backend, "kv", [(b"k", b"one")])
    assert backend.read(lambda txn: txn.get("kv", b"k")) == b"one"
    put_all(backend, "kv", [(b"k", b"two")])
    assert backend.read(lambda txn: txn.get("kv", b"k")) == b"two"


def test_replace_stores_a_value_and_returns_the_one_it_replaced(backend):
    def twice(txn):
        return txn.replace("kv", b"k", b"one"), txn.replace("kv", b"k", b"two"), txn.get("kv", b"k")

    assert backend.write(twice) == (None, b"one", b"two")
    assert backend.write(lambda txn: txn.replace("kv", b"k", b"")) == b"two"
    assert backend.get("kv", b"k") == b""

    def undone(txn):
        txn.replace("kv", b"k", b"lost")
        raise ValueError("nothing of this transaction is stored")

    with pytest.raises(ValueError):
        backend.write(undone)
    assert backend.get("kv", b"k") == b""


def test_an_empty_value_is_a_value(backend):
    put_all(backend, "kv", [(b"k", b"")])
    assert backend.read(lambda txn: txn.get("kv", b"k")) == b""


def test_write_returns_what_fn_returns_and_fn_sees_its_own_writes(backend):
    def fn(txn):
        txn.put("kv", b"a", b"1")
        return txn.get("kv", b"a"), [key for key, _ in txn.scan("kv", b"")]

    assert backend.write(fn) == (b"1", [b"a"])


def test_delete_says_whether_the_key_was_there(backend):
    put_all(backend, "kv", [(b"k", b"v")])
    assert backend.write(lambda txn: txn.delete("kv", b"k")) is True
    assert backend.write(lambda txn: txn.delete("kv", b"k")) is False
    assert backend.read(lambda txn: txn.get("kv", b"k")) is None


def test_delete_prefix_removes_exactly_the_keys_with_that_prefix(backend):
    keys = [b"a", b"ab\x00", b"ab\x00x", b"ab\x00\xff", b"ab\x01", b"ab", b"b"]
    put_all(backend, "kv", [(key, b"v") for key in keys])
    assert backend.write(lambda txn: txn.delete_prefix("kv", b"ab\x00")) == 3
    assert [key for key, _ in scan(backend, "kv", b"")] == [b"a", b"ab", b"ab\x01", b"b"]
    assert backend.write(lambda txn: txn.delete_prefix("kv", b"zz")) == 0
    assert backend.write(lambda txn: txn.delete_prefix("kv", b"")) == 4
    assert scan(backend, "kv", b"") == []


def test_spaces_are_independent(backend):
    put_all(backend, "kv", [(b"same", b"kv")])
    put_all(backend, "docs", [(b"same", b"docs")])
    assert backend.read(lambda txn: (txn.get("kv", b"same"), txn.get("docs", b"same"))) == (
        b"kv",
        b"docs",
    )
    backend.write(lambda txn: txn.delete_prefix("kv", b""))
    assert backend.read(lambda txn: txn.get("docs", b"same")) == b"docs"
    assert scan(backend, "ids", b"") == []


def test_scan_walks_one_prefix_in_byte_order_forwards_and_backwards(backend):
    keys = [b"p\xff", b"p", b"p\x00", b"q", b"o\xff", b"pa", b"p\xff\xff", b"pb"]
    put_all(backend, "kv", [(key, key.upper()) for key in keys])
    forwards = [b"p", b"p\x00", b"pa", b"pb", b"p\xff", b"p\xff\xff"]
    assert scan(backend, "kv", b"p") == [(key, key.upper()) for key in forwards]
    assert [key for key, _ in scan(backend, "kv", b"p", reverse=True)] == forwards[::-1]
    assert [key for key, _ in scan(backend, "kv", b"p", start=b"pa")] == forwards[2:]
    assert [key for key, _ in scan(backend, "kv", b"p", start=b"pab")] == forwards[3:]
    assert [key for key, _ in scan(backend, "kv", b"p", start=b"pb", reverse=True)] == [
        b"pb",
        b"pa",
        b"p\x00",
        b"p",
    ]
    assert [key for key, _ in scan(backend, "kv", b"p", start=b"pab", reverse=True)] == [
        b"pa",
        b"p\x00",
        b"p",
    ]
    assert [key for key, _ in scan(backend, "kv", b"\xff")] == []
    assert [key for key, _ in scan(backend, "kv", b"p\xff", reverse=True)] == [
        b"p\xff\xff",
        b"p\xff",
    ]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.sets(st.binary(min_size=1, max_size=6), max_size=20),
    prefix=st.binary(max_size=2),
    start=st.none() | st.binary(max_size=4),
    reverse=st.booleans(),
)
def test_scan_agrees_with_sorting_and_filtering(backend, keys, prefix, start, reverse):
    def replace_all(txn):
        txn.delete_prefix("kv", b"")
        for key in keys:
            txn.put("kv", key, b"")

    backend.write(replace_all)
    expected = sorted(key for key in keys if key.startswith(prefix))
    if start is not None:
        expected = [key for key in expected if (key <= start if reverse else key >= start)]
    if reverse:
        expected.reverse()
    assert [key for key, _ in scan(backend, "kv", prefix, start=start, reverse=reverse)] == expected


class Boom(Exception):
    pass


def test_a_write_that_raises_stores_nothing(backend):
    put_all(backend, "kv", [(b"keep", b"old"), (b"gone", b"old"), (b"p\x00a", b"1")])

    def fail_halfway(txn):
        txn.put("kv", b"keep", b"new")
        txn.put("kv", b"fresh", b"new")
        txn.put("kv", b"fresh", b"newer")
        txn.delete("kv", b"gone")
        txn.delete_prefix("kv", b"p\x00")
        txn.put("docs", b"other space", b"new")
        raise Boom

    before = scan(backend, "kv", b"")
    with pytest.raises(Boom):
        backend.write(fail_halfway)
    assert scan(backend, "kv", b"") == before
    assert scan(backend, "docs", b"") == []


def test_keys_up_to_the_limit_work_and_longer_or_empty_keys_are_refused(backend):
    longest = b"k" * MAX_KEY_BYTES
    put_all(backend, "kv", [(longest, b"v")])
    assert backend.read(lambda txn: txn.get("kv", longest)) == b"v"
    for bad in (longest + b"k", b""):
        with pytest.raises(StorageError):
            put_all(backend, "kv", [(bad, b"v")])
    assert scan(backend, "kv", b"") == [(longest, b"v")]


def test_a_closed_backend_refuses_work_and_closing_twice_is_harmless(backend):
    backend.close()
    backend.close()
    with pytest.raises(StorageError, match="closed"):
        backend.read(lambda txn: txn.get("kv", b"k"))
    with pytest.raises(StorageError, match="closed"):
        backend.write(lambda txn: txn.put("kv", b"k", b"v"))


def test_location_says_where_the_data_lives(backend, location):
    assert location.location in backend.location


def test_get_reads_one_value_like_a_read_transaction(backend):
    put_all(backend, "kv", [(b"k", b"v")])
    assert backend.get("kv", b"k") == b"v"
    assert backend.get("kv", b"missing") is None
    assert backend.get("docs", b"k") is None


def test_count_says_how_many_keys_a_space_holds(backend):
    put_all(backend, "kv", [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    put_all(backend, "docs", [(b"d", b"4")])
    assert backend.read(lambda txn: (txn.count("kv"), txn.count("docs"), txn.count("ids"))) == (
        3,
        1,
        0,
    )
    assert backend.write(lambda txn: (txn.delete("kv", b"a"), txn.count("kv"))) == (True, 2)


# ---- the location: what `patchflow data` needs ---------------------------------------------


@contextlib.contextmanager
def patch_with_data(location, patch_id, key=b"k"):
    """Open a patch on `location` holding one kv key; closed afterwards (in-memory data goes)."""
    backend = location.open(patch_id, SPACES)
    try:
        backend.write(lambda txn: txn.put("kv", key, b"value"))
        yield backend
    finally:
        backend.close()


def ours(location):
    return [patch for patch in location.patches() if patch.startswith("contract-")]


def test_a_location_lists_the_patches_holding_data_in_id_order(location):
    assert not location.has_patch("contract-b")
    with patch_with_data(location, "contract-b"), patch_with_data(location, "contract-a"):
        assert ours(location) == ["contract-a", "contract-b"]
        assert location.has_patch("contract-a") and not location.has_patch("contract-c")


def test_usage_gives_a_size_and_the_time_of_the_last_write(location):
    before = time.time()
    with patch_with_data(location, "contract-used"):
        usage = location.usage("contract-used")
        assert usage.size > 0
        # a generous bound: file systems keep mtimes coarsely
        assert usage.last_write is None or before - 5 <= usage.last_write <= time.time() + 5


def test_a_patch_open_anywhere_cannot_be_deleted_and_keeps_its_data(location):
    with patch_with_data(location, "contract-busy") as backend:
        with pytest.raises(StorageBusy, match="open"):
            location.check_deletable("contract-busy")
        with pytest.raises(StorageBusy, match="open"):
            location.delete("contract-busy")
        assert backend.get("kv", b"k") == b"value"
        assert location.has_patch("contract-busy")


def test_a_deleted_patch_is_gone_and_opens_again_empty(location):
    with patch_with_data(location, "contract-gone"):
        pass
    location.check_deletable("contract-gone")
    location.delete("contract-gone")
    location.delete("contract-gone")  # already gone: nothing to do
    assert not location.has_patch("contract-gone")
    assert "contract-gone" not in location.patches()
    reopened = location.open("contract-gone", SPACES)
    try:
        assert reopened.read(lambda txn: txn.count("kv")) == 0
    finally:
        reopened.close()


def test_a_backup_is_a_consistent_copy_that_was_checked_or_unsupported(location, tmp_path):
    def check(copy):
        return copy.get("kv", b"k"), copy.read(lambda txn: txn.count("kv"))

    destination = str(tmp_path / "backup")
    with patch_with_data(location, "contract-saved"):
        try:
            seen = location.backup("contract-saved", destination, SPACES, check)
        except Unsupported as error:
            assert "export" in str(error)  # `data backup` writes an export dump instead
            return
    assert seen == (b"value", 1)

    def refuse(copy):
        raise RuntimeError("not this copy")

    with pytest.raises(RuntimeError):
        location.backup("contract-saved", str(tmp_path / "refused"), SPACES, refuse)
    assert not (tmp_path / "refused").exists()
