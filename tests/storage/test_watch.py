"""Watching stores: the change log (`layout/changes.py`) and the facade's `on_change`/`watch`."""

from __future__ import annotations

import time

import pytest
import trio

from patchflow.storage import open_storage
from patchflow.storage.layout import changes, expiry
from patchflow.storage.layout.keys import CHANGES, META, encode_seq


def run(fn, *args):
    return trio.run(fn, *args)


def kv_change(key, value=None, found=True):
    return {"op": "changed", "key": key, "value": value, "found": found}


def test_every_kv_write_is_seen_in_commit_order(storage):
    kv = storage.kv(name="s")
    seen = []
    kv.on_change(seen.append)

    async def writes():
        await kv.set("a", 1)
        await kv.incr("n", 2)
        await kv.cas("a", 1, [1, 2])
        await kv.delete("a")
        await kv.delete("a")  # deletes nothing: no change
        await kv.batch([["set", "b", {"x": None}], ["delete", "n"]])
        await kv.clear()

    run(writes)
    assert seen == [
        kv_change("a", 1),
        kv_change("n", 2),
        kv_change("a", [1, 2]),
        kv_change("a", found=False),
        kv_change("b", {"x": None}),
        kv_change("n", found=False),
        kv_change("b", found=False),  # clear lists what it removes
    ]


def test_a_watch_sees_only_its_own_store_and_stops(storage):
    local, named = storage.kv(local="box-1"), storage.kv(name="box-1")
    seen = []
    stop = local.on_change(seen.append)
    run(named.set, "k", "named")
    run(local.set, "k", "local")
    stop()
    run(local.set, "k", "after")
    assert seen == [kv_change("k", "local")]


def test_db_watch_sees_inserts_updates_replaces_deletes_and_drops(storage):
    db = storage.db(name="s")
    seen = []
    db.on_change(seen.append, "notes")

    async def writes():
        await db.insert("notes", {"_id": "a", "t": 1})
        await db.insert("other", {"_id": "z"})
        await db.update("notes", "a", {"t": 2})
        await db.replace("notes", "a", {"t": 3})
        await db.insert("notes", {"_id": "b"})
        await db.delete("notes", "a")
        await db.drop("notes")

    run(writes)
    got = [(c["id"], c["doc"] and c["doc"].get("t")) for c in seen]
    assert got == [("a", 1), ("a", 2), ("a", 3), ("b", None), ("a", None), ("b", None)]
    assert {c["collection"] for c in seen} == {"notes"}
    assert seen[-1]["doc"] is None  # dropped


def test_an_expiry_is_seen_as_a_delete_when_polled(storage, monkeypatch):
    now = [1_800_000_000_000]
    monkeypatch.setattr(expiry, "now_ms", lambda: now[0])
    kv = storage.kv(name="s")
    seen = []
    kv.on_change(seen.append)
    run(lambda: kv.set("t", "v", ttl=100))
    storage.poll_changes()
    now[0] += 100
    storage.poll_changes()  # nothing else writes: the poll sweeps the expired key
    assert seen == [kv_change("t", "v"), kv_change("t", found=False)]


def test_changes_by_another_opener_come_in_commit_order(tmp_path):
    """A second opener stands for another process: its changes are found by polling, and
    those not yet polled are delivered before this opener's own later ones."""
    data_dir = str(tmp_path / "data")
    with open_storage("p", data_dir) as mine, open_storage("p", data_dir) as theirs:
        seen = []
        mine.kv(name="s").on_change(seen.append)
        run(theirs.kv(name="s").set, "x", 1)
        run(mine.kv(name="s").set, "y", 2)
        run(theirs.kv(name="s").set, "z", 3)
        mine.poll_changes()
        mine.poll_changes()  # nothing new: no repeats
        assert [c["key"] for c in seen] == ["x", "y", "z"]


def test_the_log_keeps_only_the_newest_entries(storage, monkeypatch):
    monkeypatch.setattr(changes, "KEEP", 10)
    monkeypatch.setattr(changes, "TRIM_EVERY", 4)
    kv = storage.kv(name="s")
    kv.on_change(lambda message: None)  # logged only while watched

    async def writes():
        for n in range(40):
            await kv.set("k", n)

    run(writes)
    kept = storage.backend.read(lambda txn: [key for key, _ in txn.scan(CHANGES, b"")])
    assert 10 <= len(kept) <= 14
    assert storage.backend.read(changes.last_seq) == 40


def test_async_for_change_in_kv_watch(storage):
    kv, db = storage.kv(name="s"), storage.db(name="s")

    async def scenario():
        seen = []

        async def watch_kv():
            async for change in kv.watch():
                seen.append(change)
                if change["key"] == "end":
                    break

        async def watch_db():
            async for change in db.watch("notes"):
                seen.append(change)
                break

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_kv)
            nursery.start_soon(watch_db)
            await trio.sleep(0.05)  # both are watching
            await kv.set("a", 1)
            await db.insert("notes", {"_id": "n"})
            await kv.set("end", True)
        return seen

    seen = run(scenario)
    assert kv_change("a", 1) in seen and kv_change("end", True) in seen
    assert [c["id"] for c in seen if "id" in c] == ["n"]


@pytest.mark.slow
def test_a_change_by_another_process_is_seen(tmp_path, python):
    data_dir = str(tmp_path / "data")
    with open_storage("p", data_dir) as storage:
        seen = []
        storage.kv(name="s").on_change(seen.append)
        code = (
            "import sys, trio\n"
            "from patchflow.storage import open_storage\n"
            "with open_storage('p', sys.argv[1]) as s:\n"
            "    trio.run(s.kv(name='s').set, 'from-child', 42)\n"
        )
        done = python(code, data_dir)
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 10  # generous: a poll normally finds it at once
        while not seen and time.monotonic() < deadline:
            storage.poll_changes()
            time.sleep(0.02)
        assert seen == [kv_change("from-child", 42)]


def test_kv_watch_under_asyncio(tmp_path):
    import asyncio

    with open_storage("p", str(tmp_path / "data")) as storage:
        kv = storage.kv(name="s")

        async def main():
            async with kv.watch() as changes:
                await kv.set("a", 1)
                return await changes.__anext__()

        assert asyncio.run(main()) == kv_change("a", 1)


def test_an_import_is_seen(tmp_path):
    """`patchflow data import` writes through the same logging backend as the commands."""
    import io

    from patchflow.storage.tools.dump import export_dump, import_dump

    with open_storage("src", str(tmp_path / "a")) as source:
        run(source.kv(name="s").set, "k", "imported")
        run(source.db(name="s").insert, "notes", {"_id": "n"})
        dump = io.BytesIO()
        export_dump(source.backend, "src", dump)
    with open_storage("dst", str(tmp_path / "b")) as storage:
        run(storage.kv(name="s").set, "old", 1)
        seen, docs = [], []
        storage.kv(name="s").on_change(seen.append)
        storage.db(name="s").on_change(docs.append, "notes")
        dump.seek(0)
        import_dump(storage.backend, dump, "dump.jsonl", replace=True)
        assert sorted(c["key"] for c in seen) == ["k", "old"]
        assert kv_change("k", "imported") in seen and kv_change("old", found=False) in seen
        assert [(c["id"], c["doc"]["_id"]) for c in docs] == [("n", "n")]


def logged_keys(storage):
    return storage.backend.read(lambda txn: [key for key, _ in txn.scan(CHANGES, b"")])


def test_a_write_nobody_watches_logs_nothing(storage):
    run(storage.kv(name="s").set, "a", 1)
    run(storage.db(name="s").insert, "notes", {"_id": "n"})
    assert logged_keys(storage) == []
    assert storage.backend.read(changes.last_seq) == 0


def test_a_watch_in_another_opener_makes_this_one_log(tmp_path):
    """The lease is in the store: a writer that has no watchers of its own logs for another's."""
    data_dir = str(tmp_path / "data")
    with open_storage("p", data_dir) as watcher, open_storage("p", data_dir) as writer:
        run(writer.kv(name="s").set, "before", 0)
        seen = []
        stop = watcher.kv(name="s").on_change(seen.append)
        run(writer.kv(name="s").set, "after", 1)
        watcher.poll_changes()
        assert seen == [kv_change("after", 1)]
        assert len(logged_keys(writer)) == 1
        stop()


def test_a_lapsed_lease_stops_logging(tmp_path):
    """A watcher killed without stopping leaves its lease behind; once it ends, writes stop
    logging (simulated by writing a lease that ended a second ago)."""
    data_dir = str(tmp_path / "data")
    with open_storage("p", data_dir) as storage:
        old = encode_seq(changes.now_ms() - 1_000)
        storage.backend.write(lambda txn: txn.put(META, changes.LEASE_KEY, old))
        run(storage.kv(name="s").set, "a", 1)
        assert logged_keys(storage) == []
        live = encode_seq(changes.now_ms() + 60_000)
        storage.backend.write(lambda txn: txn.put(META, changes.LEASE_KEY, live))
        run(storage.kv(name="s").set, "b", 2)
        assert len(logged_keys(storage)) == 1  # the same store logs while a lease is live


def test_a_watcher_renews_its_lease_when_it_polls(storage, monkeypatch):
    clock = [changes.now_ms()]
    monkeypatch.setattr(changes, "now_ms", lambda: clock[0])
    storage.kv(name="s").on_change(lambda message: None)
    lease = storage.backend.read(changes.lease_until)
    assert lease == clock[0] + changes.LEASE_MS
    clock[0] += changes.RENEW_MS // 2
    storage.poll_changes()  # still fresh: not rewritten
    assert storage.backend.read(changes.lease_until) == lease
    clock[0] += changes.RENEW_MS
    storage.poll_changes()
    assert storage.backend.read(changes.lease_until) == clock[0] + changes.LEASE_MS


@pytest.mark.slow
def test_a_watcher_in_another_process_sees_changes_made_after_it_started(tmp_path, start):
    data_dir = str(tmp_path / "data")
    code = (
        "import sys, time\n"
        "from patchflow.storage import open_storage\n"
        "with open_storage('p', sys.argv[1]) as s:\n"
        "    seen = []\n"
        "    s.kv(name='s').on_change(seen.append)\n"
        "    print('watching', flush=True)\n"
        "    deadline = time.monotonic() + 30\n"
        "    while not seen and time.monotonic() < deadline:\n"
        "        s.poll_changes()\n"
        "        time.sleep(0.02)\n"
        "    print(seen, flush=True)\n"
    )
    with open_storage("p", data_dir) as storage:
        run(storage.kv(name="s").set, "before", 0)  # before the watch: not seen
        child = start(code, data_dir)
        try:
            assert child.stdout.readline() == "watching\n", child.stderr.read()
            run(storage.kv(name="s").set, "after", 1)
            out, err = child.communicate(timeout=60)
        finally:
            child.kill()
    assert child.returncode == 0, err
    assert out.strip() == repr([kv_change("after", 1)])


def test_a_notice_that_comes_during_a_poll_is_not_lost_until_the_next_look():
    """Another process's notice arriving while `kv.watch()` polls (before it starts to wait)
    makes it look again at once, rather than after the (here, hour-long) poll interval."""
    from patchflow.storage.store import Changes

    class NoticeDuringPoll:
        poll_seconds = 3600.0

        def __init__(self):
            self.polls = 0
            self.wake = None
            self.send = None

        def on_remote_change(self, wake):
            self.wake = wake
            return lambda: None

        def poll(self):
            self.polls += 1
            if self.polls == 1:
                self.wake()  # the notice arrives now, from the listening thread
            else:
                self.send({"op": "changed", "key": "k", "value": 1, "found": True})

    backend = NoticeDuringPoll()

    def listen(send):
        backend.send = send
        return lambda: None

    async def first_change():
        with trio.fail_after(5):
            return await Changes(backend, listen).__anext__()

    assert trio.run(first_change)["key"] == "k"
    assert backend.polls == 2
