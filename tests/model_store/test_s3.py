"""Object storage backend: racing hosts, numbering retries, polling cost and unsafe servers.

The contract shared with the filesystem runs on both backends in the other test files; these
tests are about what only object storage has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_store import CorruptArtifact, InvalidName, Pointer, Published, StoreError, open_store
from model_store.s3 import REFUSED, S3Store
from service.data import datasets
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from tests.support.s3_servers import S3Server, counting_client, start_rclone

from .conftest import (
    S3Raw,
    assert_each_writer_got_its_own_versions,
    sample_arrays,
    sample_meta,
    spawn,
)

# One "host": its own process, its own temporary directory and home, only the bucket shared.
HOST = """
import json, os, sys, time
import numpy as np
from model_store import open_store

location, go, host, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = open_store(location)
store.check_conditional_writes()
print("READY", flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.002)
versions = [
    store.publish("m", {"w": np.full(20_000, float(i))}, {"writer": f"{host}-{i}"})
    for i in range(count)
]
print(json.dumps(versions), flush=True)
"""
HOSTS = 4
PUBLISHES = 5


@pytest.mark.process
def test_publishers_on_separate_hosts_never_share_a_version(s3_raw: S3Raw, tmp_path: Path) -> None:
    go = tmp_path / "go"
    hosts = []
    for n in range(HOSTS):
        home = tmp_path / f"host{n}"
        home.mkdir()
        args = (s3_raw.location, str(go), f"h{n}", str(PUBLISHES))
        hosts.append(spawn(HOST, *args, cwd=home, TMPDIR=str(home), HOME=str(home)))
    for host in hosts:
        assert host.stdout is not None
        assert host.stdout.readline().strip() == "READY"
    go.touch()
    results = {}
    for n, host in enumerate(hosts):
        out, _ = host.communicate(timeout=120)
        assert host.returncode == 0
        results[f"h{n}"] = json.loads(out)

    store = open_store(s3_raw.location)
    assert_each_writer_got_its_own_versions(store, results, HOSTS * PUBLISHES, 20_000)
    # A publisher never takes CURRENT back from a newer version, so the newest one wins.
    assert store.current_version("m") == HOSTS * PUBLISHES
    assert set(store.promoted_versions("m")) <= set(store.versions("m"))
    assert store.promoted_versions("m")[0] == HOSTS * PUBLISHES


def test_a_number_taken_at_the_last_moment_is_retried_with_the_next(
    s3_raw: S3Raw, s3_env: dict
) -> None:
    client, seen = counting_client(s3_env)
    store = S3Store(s3_raw.location, client=client)
    store.publish("m", {"w": np.zeros(1)}, {})

    def squat(params: dict, **_: Any) -> None:
        # Another publisher creates version 2's manifest just before ours.
        if params["Key"].endswith("/2/model.json") and not squatted:
            s3_raw.write(b"{}", "m", "2", "model.json")
            squatted.append(2)

    squatted: list[int] = []
    client.meta.events.register("provide-client-params.s3.PutObject", squat)
    seen.clear()
    assert store.publish("m", {"w": np.ones(1)}, {"n": 3}) == 3
    assert squatted == [2]
    assert seen[("PutObject", 412)] == 1
    assert store.current_version("m") == 3
    assert store.load("m", 3).meta["n"] == 3
    with pytest.raises(CorruptArtifact):
        store.load("m", 2)


def publish_models(location: str, names: list[str]) -> None:
    writer = open_store(location)
    for name in names:
        writer.publish(name, sample_arrays(), sample_meta())


@pytest.mark.parametrize("models", [3, 40])
def test_an_unchanged_poll_costs_one_list_whatever_the_number_of_models(
    s3_raw: S3Raw, s3_env: dict, models: int
) -> None:
    names = [f"m{i:03d}" for i in range(models)]
    publish_models(s3_raw.location, names)
    client, seen = counting_client(s3_env)
    poller = S3Store(s3_raw.location, client=client)
    first = poller.pointers()
    assert {name: p.version for name, p in first.items()} == dict.fromkeys(names, 1)
    # The first look reads every CURRENT once; later ones only the top-level listing.
    assert seen == {("ListObjectsV2", 200): 1, ("GetObject", 200): models}
    for _ in range(5):
        seen.clear()
        assert poller.pointers() == first
        assert seen == {("ListObjectsV2", 200): 1}


def test_a_poll_reads_only_the_changed_currents(s3_raw: S3Raw, s3_env: dict) -> None:
    publish_models(s3_raw.location, ["a", "b", "c"])
    writer = open_store(s3_raw.location)
    client, seen = counting_client(s3_env)
    poller = S3Store(s3_raw.location, client=client)
    first = poller.pointers()
    writer.publish("b", sample_arrays(2), sample_meta())
    writer.set_current("c", 1)  # the same version again is still a change
    seen.clear()
    changed = poller.pointers()
    assert seen == {("ListObjectsV2", 200): 1, ("GetObject", 200): 2}
    assert changed["a"] == first["a"]
    assert changed["b"].version == 2 and changed["b"].token != first["b"].token
    assert changed["c"].version == 1 and changed["c"].token != first["c"].token
    assert changed["c"].token == writer.current_token("c")


def pages_of_ten(params: dict, **_: Any) -> None:
    params["MaxKeys"] = 10


@pytest.mark.parametrize("models,pages", [(5, 1), (6, 2)])
def test_a_poll_costs_one_list_per_half_page_of_models(
    s3_raw: S3Raw, s3_env: dict, models: int, pages: int
) -> None:
    # A model's folder and its CURRENT are two entries of a LIST page: S3's pages hold 1,000
    # entries, so a poll costs a LIST per 500 models. Pages of 10 here (MaxKeys, as a server
    # with smaller pages would send them) show the same arithmetic without 1,000 uploads.
    client, seen = counting_client(s3_env)
    client.meta.events.register("provide-client-params.s3.ListObjectsV2", pages_of_ten)
    poller = S3Store(s3_raw.location, client=client)
    for n in range(models):  # the objects a LIST sees at the top level, without publishing
        s3_raw.write(b"1\n1\n", f"m{n:03d}.CURRENT")
        s3_raw.write(b"", f"m{n:03d}", "1", "model.json")
    assert len(poller.pointers()) == models
    seen.clear()
    poller.pointers()
    assert seen == {("ListObjectsV2", 200): pages}


def test_a_never_promoted_model_costs_a_list_until_it_has_a_version(
    s3_raw: S3Raw, s3_env: dict
) -> None:
    writer = open_store(s3_raw.location)
    writer.publish("m", sample_arrays(), sample_meta(), promote=False)
    s3_raw.write(b"blob", "pending", "blobs", "0" * 64)  # a first publish under way
    client, seen = counting_client(s3_env)
    poller = S3Store(s3_raw.location, client=client)
    assert poller.pointers() == {"m": Pointer(None, None)}
    seen.clear()
    assert poller.pointers() == {"m": Pointer(None, None)}
    # "m" is known to have versions; "pending" is asked again, as its first version may land.
    assert seen == {("ListObjectsV2", 200): 2}
    writer.publish("pending", sample_arrays(), sample_meta(), promote=False)
    assert poller.pointers() == {"m": Pointer(None, None), "pending": Pointer(None, None)}


def test_a_store_of_the_earlier_layout_is_read_and_taken_over_by_the_next_promotion(
    s3_store: S3Store, s3_raw: S3Raw
) -> None:
    """CURRENT used to be <prefix>/<model>/CURRENT; stores written then keep serving."""
    s3_store.publish("m", sample_arrays(1), sample_meta())
    s3_store.publish("m", sample_arrays(2), sample_meta())
    s3_raw.write(s3_raw.read("m.CURRENT"), "m", "CURRENT")
    s3_raw.delete("m.CURRENT")
    reader = open_store(s3_raw.location)
    assert reader.current_version("m") == 2 and reader.load("m").version == 2
    assert reader.pointers() == {"m": Pointer(2, reader.current_token("m"))}
    reader.set_current("m", 1)
    assert s3_raw.read("m.CURRENT") == b"1\n3\n"  # numbered after the earlier promotions
    assert reader.promoted_versions("m") == [1, 2]
    assert open_store(s3_raw.location).pointers()["m"].version == 1


def test_concurrent_promotions_keep_current_and_history_in_one_order(s3_raw: S3Raw) -> None:
    one, other = open_store(s3_raw.location), open_store(s3_raw.location)
    for _ in range(3):
        one.publish("m", sample_arrays(), sample_meta(), promote=False)
    one.set_current("m", 1)
    other.set_current("m", 2)  # one's cached ETag of CURRENT is now stale
    one.set_current("m", 3)  # its If-Match fails (412), it reads CURRENT again and retries
    assert one.current_version("m") == other.current_version("m") == 3
    assert one.promoted_versions("m") == [3, 2, 1]
    assert one.pointers()["m"] == other.pointers()["m"]


def race_a_newer_publish(store: S3Store, rival: S3Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `rival` publish and promote the next version between `store`'s manifest and switch.

    Two trainers finishing within milliseconds do this: the older version loses the switch.
    """
    swap = store._swap_pointer

    def rival_first(name: str, version: int, **kwargs: Any) -> bool:
        assert rival.publish(name, sample_arrays(9), sample_meta()) == version + 1
        return swap(name, version, **kwargs)

    monkeypatch.setattr(store, "_swap_pointer", rival_first)


def test_a_publish_overtaken_by_a_newer_one_says_it_did_not_become_current(
    s3_raw: S3Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, rival = open_store(s3_raw.location), open_store(s3_raw.location)
    race_a_newer_publish(store, rival, monkeypatch)
    assert store.publish_outcome("m", sample_arrays(1), sample_meta()) == Published(1, False)
    assert store.current_version("m") == 2
    assert store.promoted_versions("m") == [2]  # version 1 was never current


def test_training_overtaken_on_object_storage_reports_not_promoted(
    s3_raw: S3Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, rival = open_store(s3_raw.location), open_store(s3_raw.location)
    race_a_newer_publish(store, rival, monkeypatch)
    spec = TrainSpec(model="diabetes", hyperparameters=Hyperparameters(epochs=50), promote="always")
    result = train_model(spec, datasets.diabetes(), store)
    assert (result.version, result.promoted) == (1, False)
    assert result.reason.endswith(
        "not made current: a newer version of 'diabetes' was promoted first"
    )
    assert store.current_version("diabetes") == 2


def test_a_hand_written_current_is_taken_and_numbered_on_the_next_promotion(
    s3_store: S3Store, s3_raw: S3Raw
) -> None:
    s3_store.publish("m", sample_arrays(), sample_meta())
    s3_store.publish("m", sample_arrays(), sample_meta(), promote=False)
    s3_raw.write(b"2\n", "m.CURRENT")  # what `echo 2 | aws s3 cp - .../m.CURRENT` leaves
    assert s3_store.current_version("m") == 2
    assert s3_store.pointers()["m"].version == 2
    s3_store.set_current("m", 1)
    assert s3_raw.read("m.CURRENT") == b"1\n2\n"
    assert s3_store.promoted_versions("m") == [1]


@pytest.fixture
def rclone(tmp_path: Path) -> Any:
    served = tmp_path / "served"
    (served / "models").mkdir(parents=True)
    server = start_rclone(served, tmp_path)
    yield server
    server.stop()


def test_a_server_that_ignores_conditional_writes_is_refused_for_writing(
    rclone: S3Server, s3_raw: S3Raw, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A model published on a proper server, then copied object by object to rclone's.
    open_store(s3_raw.location).publish("m", sample_arrays(7), sample_meta())
    rclone_client = rclone.client(tmp_path)
    for key in s3_raw.list_keys():
        body = s3_raw.client.get_object(Bucket=s3_raw.bucket, Key=key)["Body"].read()
        rclone_client.put_object(Bucket="models", Key=key, Body=body)
    for name, value in rclone.env(tmp_path).items():
        monkeypatch.setenv(name, value)

    store = open_store(f"s3://models/{s3_raw.prefix}")
    with pytest.raises(StoreError) as refused:
        store.publish("m", sample_arrays(), sample_meta())
    assert str(refused.value) == REFUSED
    assert "does not enforce conditional writes" in REFUSED
    with pytest.raises(StoreError, match="does not enforce conditional writes"):
        store.set_current("m", 1)
    with pytest.raises(StoreError, match="does not enforce conditional writes"):
        store.check_conditional_writes()
    # Nothing was written, and reading works as on any server.
    assert store.versions("m") == [1]
    assert store.list_models() == ["m"]
    assert np.array_equal(store.load("m").arrays["W0"], sample_arrays(7)["W0"])
    assert store.pointers()["m"].version == 1
    assert store.promoted_versions("m") == [1]


def test_the_same_probe_passes_on_moto(s3_store: S3Store) -> None:
    s3_store.check_conditional_writes()
    assert s3_store.list_models() == []


def test_an_unreachable_server_is_a_store_error(
    s3_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.harness import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    store = open_store("s3://nowhere/models")
    with pytest.raises(StoreError, match="object storage unreachable"):
        store.list_models()
    with pytest.raises(StoreError, match="object storage unreachable"):
        store.load("m")


def test_a_missing_bucket_is_a_store_error(s3_env: dict) -> None:
    store = open_store("s3://no-such-bucket-here/models")
    with pytest.raises(StoreError, match="NoSuchBucket"):
        store.pointers()


def test_the_bucket_root_can_hold_the_store(s3_raw: S3Raw) -> None:
    store = open_store(f"s3://{s3_raw.bucket}")
    assert store.publish("m", sample_arrays(), sample_meta()) == 1
    assert store.pointers() == {"m": Pointer(1, store.current_token("m"))}
    assert "m/1/model.json" in [
        item["Key"] for item in s3_raw.client.list_objects_v2(Bucket=s3_raw.bucket)["Contents"]
    ]


@pytest.mark.parametrize("location", ["s3://", "s3:///x", "s3://A_B/x", "s3://a/x"])
def test_bad_locations_are_refused(location: str) -> None:
    with pytest.raises(InvalidName):
        open_store(location)
