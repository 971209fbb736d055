"""Name and version validation, which must happen before any filesystem access."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_store import InvalidName, ModelStore, Store, StoreError, parse_version, validate_name

from .conftest import FsRaw, S3Raw

BAD_NAMES = [
    "../x",
    "..",
    ".",
    "A",
    "Model",
    "",
    "x/y",
    "x\\y",
    "a" * 65,
    ".hidden",
    "-lead",
    "_lead",
    "a b",
    "a\n",
    "a\x00",
    "modèle",
    "ｍodel",
    "١",
    "/abs",
    None,
    1,
    b"model",
]


@pytest.mark.parametrize("name", ["a", "0", "iris", "iris-v2_small", "9lives", "a" * 64])
def test_good_names_pass(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_rejected_before_touching_the_store(
    name: object, store: Store, raw: FsRaw | S3Raw, root: Path
) -> None:
    calls = [
        lambda: store.publish(name, {"w": np.zeros(2)}, {}),  # type: ignore[arg-type]
        lambda: store.versions(name),  # type: ignore[arg-type]
        lambda: store.current_version(name),  # type: ignore[arg-type]
        lambda: store.load(name),  # type: ignore[arg-type]
        lambda: store.load(name, 1),  # type: ignore[arg-type]
        lambda: store.read_meta(name, 1),  # type: ignore[arg-type]
        lambda: store.set_current(name, 1),  # type: ignore[arg-type]
        lambda: store.current_token(name),  # type: ignore[arg-type]
        lambda: store.promoted_versions(name),  # type: ignore[arg-type]
        lambda: store.read_attachment(name, 1, "loss.png"),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidName):
            call()
    with pytest.raises(InvalidName):
        validate_name(name)
    assert raw.is_empty()
    assert not root.parent.joinpath("x").exists()


def test_bad_name_cannot_reach_a_sibling_directory(tmp_path: Path) -> None:
    # A decoy that "../decoy" would hit if the name were used as a path unchecked.
    decoy = tmp_path / "decoy" / "1"
    decoy.mkdir(parents=True)
    store = ModelStore(tmp_path / "store")
    with pytest.raises(InvalidName):
        store.versions("../decoy")


def test_invalid_name_is_a_store_error_with_a_safe_message() -> None:
    with pytest.raises(StoreError) as info:
        validate_name("../etc/passwd")
    assert "passwd" not in str(info.value)


@pytest.mark.parametrize("text", ["1", "7", "42", "999999999"])
def test_parse_version_accepts_plain_positive_integers(text: str) -> None:
    assert parse_version(text) == int(text)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-1",
        "+1",
        "01",
        "1.0",
        "1e3",
        "abc",
        "../1",
        "1/",
        "",
        " 1",
        "1 ",
        "1\n",
        "١",
        "1_000",
        "1234567890",
        "9" * 50,
        None,
        1,
    ],
)
def test_parse_version_rejects_everything_else(text: object) -> None:
    with pytest.raises(InvalidName):
        parse_version(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [0, -1, "1", "../1", 1.0, True, np.float64(1), 10**9])
def test_methods_reject_non_positive_int_versions(store: Store, version: object) -> None:
    store.publish("m", {"w": np.zeros(1)}, {})
    with pytest.raises(InvalidName):
        store.load("m", version)  # type: ignore[arg-type]
    with pytest.raises(InvalidName):
        store.read_meta("m", version)  # type: ignore[arg-type]
    with pytest.raises(InvalidName):
        store.set_current("m", version)  # type: ignore[arg-type]


def test_none_is_not_a_version_where_one_is_required(store: Store) -> None:
    store.publish("m", {"w": np.zeros(1)}, {})
    for call in (store.read_meta, store.set_current):
        with pytest.raises(InvalidName):
            call("m", None)  # type: ignore[arg-type]


def test_numpy_integer_versions_are_accepted_as_plain_ints(store: Store) -> None:
    store.publish("m", {"w": np.zeros(1)}, {})
    artifact = store.load("m", np.int64(1))
    assert artifact.version == 1
    assert type(artifact.version) is int
