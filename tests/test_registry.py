"""The registry finds objects through the `patchflow.objects` entry point, also another
package's (tests/example_package: a module and its dist-info, as pip would install them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchflow import Box, Patch, Registry
from patchflow.registry import load_registry
from patchflow.testing import run_patch

EXAMPLE_PACKAGE = Path(__file__).parent / "example_package"


@pytest.fixture
def with_example_package(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE_PACKAGE))


def test_a_third_party_package_adds_an_object_through_its_entry_point(with_example_package):
    registry = load_registry()
    assert registry.get("shout").__module__ == "patchflow_shout"
    assert registry.get("print") is not None  # the built-in library is still there
    patch = Patch.from_string(
        "[loadbang] -> [msg 'hi', 3, 1] -> [shout \"!!\" 1] -> [print]\n", registry=registry
    )
    assert run_patch(patch).lines == ['print: "HI!!"', "print: 3"]


def test_without_the_package_the_object_is_unknown_with_a_hint():
    with pytest.raises(ValueError, match="unknown object 'shout'"):
        Patch.from_string("[shout]\n", registry=load_registry())


def test_two_classes_may_not_claim_one_name():
    class A(Box):
        name = "same"

    class B(Box):
        name = "other"
        aliases = ("same",)

    with pytest.raises(ValueError, match="'same' is taken by"):
        Registry([A, B])
