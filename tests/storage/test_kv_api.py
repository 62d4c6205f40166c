"""The Python API (`PatchStorage`, `KV`) and what keeps stores apart, on each backend."""

from __future__ import annotations

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchflow.errors import CommandError, StorageError
from patchflow.storage import (
    FORMAT_VERSION,
    KV,
    SPACES,
    StoreRef,
    check_patch_id,
    decode,
    encode,
    open_storage,
)
from patchflow.storage.layout.keys import FORMAT_KEY, encode_key


def test_the_python_api_does_what_storage_md_says(storage):
    kv = storage.kv(local="py-1")

    async def scenario():
        assert await kv.get("count") is None
        assert await kv.set("count", 1) is None
        assert await kv.get("count") == 1
        assert await kv.has("count") is True
        await kv.set("blob", b"\x89PNG")
        assert await kv.get("blob") == b"\x89PNG"
        assert await kv.keys() == ["blob", "count"]
        assert await kv.delete("count") is True
        assert await kv.delete("count") is False
        assert await kv.has("count") is False
        assert await kv.clear() is None
        assert await kv.keys() == []

    trio.run(scenario)


def test_a_named_store_is_shared_between_kv_store_and_a_named_box(storage):
    async def scenario():
        await storage.kv(local="py-1").store("settings").set("volume", 0.8)
        assert await KV(storage.backend, StoreRef.named("settings")).get("volume") == 0.8
        assert await storage.kv(name="settings").get("volume") == 0.8

    trio.run(scenario)


def test_store_of_the_empty_name_returns_to_the_local_store(storage):
    async def scenario():
        kv = storage.kv(local="py-1")
        await kv.set("mine", 1)
        back = kv.store("elsewhere").store("")
        assert back.store_ref == StoreRef.local("py-1")
        assert await back.get("mine") == 1

    trio.run(scenario)


def test_kv_of_a_box_with_a_store_name_uses_the_named_store(storage):
    kv = storage.kv(local="kv-1", name="shared")
    assert kv.store_ref == StoreRef.named("shared")
    assert kv.store("").store_ref == StoreRef.local("kv-1")
    assert storage.kv(local="kv-1", name="").store_ref == StoreRef.local("kv-1")


def test_kv_needs_a_box_id_or_a_name(storage):
    with pytest.raises(TypeError):
        storage.kv()


def test_local_and_named_stores_of_the_same_name_never_collide(storage):
    async def scenario():
        local, named = storage.kv(local="box"), storage.kv(name="box")
        await local.set("k", "local")
        await named.set("k", "named")
        assert (await local.get("k"), await named.get("k")) == ("local", "named")
        await local.clear()
        assert await named.get("k") == "named"

    trio.run(scenario)


def test_a_store_whose_name_extends_another_does_not_share_its_keys(storage):
    async def scenario():
        await storage.kv(name="a").set("b", 1)
        await storage.kv(name="ab").set("c", 2)
        assert await storage.kv(name="a").keys() == ["b"]
        assert await storage.kv(name="ab").keys() == ["c"]

    trio.run(scenario)


def test_kv_data_lives_only_in_the_kv_space(storage):
    store = StoreRef.named("notes")
    trio.run(storage.kv(name="notes").set, "k", 1)
    # a db document under the same store and the same bytes stays out of the kv listing
    storage.backend.write(lambda txn: txn.put("docs", store.prefix + b"k2", encode({"x": 1})))

    def every_space(txn):
        return {space: [key for key, _ in txn.scan(space, b"")] for space in SPACES}

    found = storage.backend.read(every_space)
    assert found["kv"] == [store.prefix + b"k"]
    assert found["docs"] == [store.prefix + b"k2"]
    assert found["ids"] == found["collections"] == []
    assert trio.run(storage.kv(name="notes").keys) == ["k"]


def test_patches_in_one_data_dir_have_separate_storage(data_dir):
    with open_storage("first", data_dir) as first, open_storage("second", data_dir) as second:
        trio.run(first.kv(name="s").set, "k", "first")
        assert trio.run(second.kv(name="s").get, "k") is None
        trio.run(second.kv(name="s").set, "k", "second")
        assert trio.run(first.kv(name="s").get, "k") == "first"


def test_two_opens_of_one_patch_in_a_process_see_the_same_data(data_dir):
    with open_storage("p", data_dir) as one, open_storage("p", data_dir) as two:
        trio.run(one.kv(name="s").set, "k", 1)
        assert trio.run(two.kv(name="s").get, "k") == 1
        one.close()
        assert trio.run(two.kv(name="s").get, "k") == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.sets(st.text(max_size=12), max_size=15))
def test_keys_come_back_in_code_point_order(storage, keys):
    store = StoreRef.named("order")

    def replace_all(txn):
        txn.delete_prefix("kv", store.prefix)
        for key in keys:
            txn.put("kv", store.prefix + encode_key(key), encode(None))

    storage.backend.write(replace_all)
    assert trio.run(storage.kv(name="order").keys) == sorted(keys)


# ---- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda kv: kv.set(5, 1), {"type": "set", "key": 5, "value": 1}),
        (lambda kv: kv.set("k", {1, 2}), {"type": "set", "key": "k", "value": {1, 2}}),
        (lambda kv: kv.get(None), {"type": "get", "key": None}),
        (lambda kv: kv.get("k" * 401), {"type": "get", "key": "k" * 401}),
        (lambda kv: kv.has(3), {"type": "has", "key": 3}),
        (lambda kv: kv.delete(b"k"), {"type": "delete", "key": b"k"}),
    ],
)
def test_bad_arguments_raise_with_the_message_of_the_error_reply(storage, box_reply, call, message):
    kv = storage.kv(name="s")
    with pytest.raises(CommandError) as caught:
        trio.run(call, kv)
    assert str(caught.value) == box_reply(kv, message)["message"]


def test_a_bad_store_name_raises_with_the_message_of_the_set_store_reply(storage, box_reply):
    kv = storage.kv(local="py-1")
    with pytest.raises(CommandError) as caught:
        kv.store("a\x00b")
    reply = box_reply(kv, {"type": "setStore", "value": "a\x00b"})
    assert str(caught.value) == reply["message"]
    with pytest.raises(CommandError, match="contains NUL"):
        storage.kv(name="a\x00b")
    with pytest.raises(CommandError, match="no local store"):
        storage.kv(name="named-only").store("")


@pytest.mark.parametrize("patch_id", ["", ".hidden", "..", "a/b", "a b", "naïve", "x\x00", 5])
def test_an_invalid_patch_id_is_refused(patch_id, tmp_path):
    with pytest.raises(ValueError, match="invalid patch id"):
        open_storage(patch_id, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("patch_id", ["counter", "my-patch.v2", "A_1", "x..y"])
def test_a_valid_patch_id_is_accepted(patch_id):
    assert check_patch_id(patch_id) == patch_id


def test_the_format_version_is_recorded_and_a_newer_one_refused(data_dir):
    with open_storage("p", data_dir) as storage:
        recorded = storage.backend.read(lambda txn: txn.get("meta", FORMAT_KEY))
        assert decode(recorded) == FORMAT_VERSION
        newer = encode(FORMAT_VERSION + 1)
        storage.backend.write(lambda txn: txn.put("meta", FORMAT_KEY, newer))
        with pytest.raises(StorageError, match=r"newer patchflow.*[Uu]pgrade patchflow"):
            open_storage("p", data_dir)


def test_a_closed_storage_raises_storage_error(storage, box_reply):
    kv = storage.kv(name="s")
    storage.close()
    with pytest.raises(StorageError, match="closed"):
        trio.run(kv.get, "k")
    reply = box_reply(kv, {"get": "k"})
    assert reply["op"] == "error"
    assert reply["message"].startswith("kv: 'get' failed: ")
