"""Naming rules: the C spelling QEMU derives from a name, and which names each kind of
definition and member may have.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyqmp.schema import SchemaError
from pyqmp.schema.errors import Pragma, SourceInfo
from pyqmp.schema.names import (
    c_name,
    check_defn_name,
    check_name_camel,
    check_name_is_str,
    check_name_lower,
    check_name_str,
    check_name_upper,
)

INFO = SourceInfo("names.json", 7, None, Pragma())


def error_of(check: Callable[[], object]) -> str:
    with pytest.raises(SchemaError) as caught:
        check()
    return str(caught.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("foo", "foo"),
        ("foo-bar", "foo_bar"),
        ("x-foo", "x_foo"),
        ("__org.qemu_x-foo", "__org_qemu_x_foo"),
        ("a+b c", "a_b_c"),
        ("caf\xe9", "caf_"),
        ("int", "q_int"),  # C keyword
        ("unix", "q_unix"),  # a macro in system headers
        ("true", "q_true"),  # C++ keyword
        ("_Bool", "q__Bool"),
        ("1st", "q_1st"),  # C names cannot start with a digit
        ("Int", "Int"),  # keywords are case-sensitive
        ("if-x", "if_x"),  # only whole words are protected
    ],
)
def test_c_name(name: str, expected: str) -> None:
    assert c_name(name) == expected


@pytest.mark.parametrize(("name", "expected"), [("int", "int"), ("1st", "1st"), ("a-b", "a_b")])
def test_c_name_unprotected(name: str, expected: str) -> None:
    assert c_name(name, protect=False) == expected


def test_c_name_caches_keep_protect_apart() -> None:
    # c_name caches its results; the protected and unprotected spellings must not mix
    for name in ("while", "9lives", "linux"):
        unprotected = c_name(name, False)
        protected = c_name(name)
        assert protected == "q_" + unprotected
        assert c_name(name, False) == unprotected


@pytest.fixture(scope="module")
def qemu_common(qemu_source: Path) -> ModuleType:
    """QEMU's ``scripts/qapi/common.py``, loaded on its own as a reference to test against."""
    spec = importlib.util.spec_from_file_location(
        "qemu_qapi_common", qemu_source / "scripts" / "qapi" / "common.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=300, deadline=None)
@given(
    name=st.lists(
        st.sampled_from([*"abcdfilnrtuxABZ_-.019+ \xe9", "int", "unix", "_Bool", "and_eq"]),
        min_size=1,
        max_size=6,
    ).map("".join),
    protect=st.booleans(),
)
def test_c_name_agrees_with_qemu(qemu_common: ModuleType, name: str, protect: bool) -> None:
    assert c_name(name, protect) == qemu_common.c_name(name, protect)


@pytest.mark.parametrize(
    "name", ["foo", "Foo9", "x-foo", "__org.qemu_foo", "__com.example_x-foo-bar", "a_b-c"]
)
def test_valid_names(name: str) -> None:
    assert name.endswith(check_name_str(name, INFO, "thing"))


@pytest.mark.parametrize(
    "name", ["", "9foo", "-foo", "_foo", "foo bar", "foo.bar", "caf\xe9", "q_foo", "q-foo", "__x"]
)
def test_invalid_names(name: str) -> None:
    assert error_of(lambda: check_name_str(name, INFO, "'data' member")) == (
        "names.json:7: 'data' member has an invalid name"
    )


def test_stem_without_prefixes() -> None:
    assert check_name_str("__org.qemu_x-foo-bar", INFO, "thing") == "foo-bar"
    assert check_name_str("x-foo", INFO, "thing") == "foo"
    assert check_name_str("foo_bar", INFO, "thing") == "foo_bar"


def test_name_must_be_a_string() -> None:
    assert check_name_is_str("foo", INFO, "'data' member") == "foo"
    assert error_of(lambda: check_name_is_str(["foo"], INFO, "'data' member")) == (
        "names.json:7: 'data' member requires a string name"
    )


@pytest.mark.parametrize("name", ["FOO", "FOO_BAR", "X-FOO", "__org.qemu_FOO2"])
def test_upper_names(name: str) -> None:
    check_name_upper(name, INFO, "event")


@pytest.mark.parametrize("name", ["Foo", "FOO-BAR", "fOO"])
def test_upper_names_rejected(name: str) -> None:
    assert error_of(lambda: check_name_upper(name, INFO, "event")) == (
        "names.json:7: name of event must not use lowercase or '-'"
    )


@pytest.mark.parametrize("name", ["foo", "foo-bar", "x-foo", "__org.qemu_foo-2", "q"])
def test_lower_names(name: str) -> None:
    check_name_lower(name, INFO, "command")


@pytest.mark.parametrize("name", ["foo_bar", "fooBar", "FOO", "x-foo_bar"])
def test_lower_names_rejected(name: str) -> None:
    assert error_of(lambda: check_name_lower(name, INFO, "command")) == (
        "names.json:7: name of command must not use uppercase or '_'"
    )


def test_lower_name_exceptions_do_not_leak() -> None:
    # A name allowed once by a permit must still be refused without it (names are cached).
    check_name_lower("leak_test", INFO, "command", permit_underscore=True)
    check_name_lower("leakTest", INFO, "command", permit_upper=True)
    assert "must not use uppercase or '_'" in error_of(
        lambda: check_name_lower("leak_test", INFO, "command")
    )
    assert "must not use uppercase or '_'" in error_of(
        lambda: check_name_lower("leakTest", INFO, "command")
    )


def test_reserved_prefix_is_invalid_even_when_lower() -> None:
    assert error_of(lambda: check_name_lower("q-obj", INFO, "command")) == (
        "names.json:7: command has an invalid name"
    )


@pytest.mark.parametrize("name", ["Foo", "FooBar", "X509Cert", "x-Foo", "__org.qemu_Foo"])
def test_camel_names(name: str) -> None:
    check_name_camel(name, INFO, "struct")


@pytest.mark.parametrize("name", ["foo", "FOO", "Foo-Bar", "Foo_bar", "F00"])
def test_camel_names_rejected(name: str) -> None:
    assert error_of(lambda: check_name_camel(name, INFO, "struct")) == (
        "names.json:7: name of struct must use CamelCase"
    )


@pytest.mark.parametrize(
    ("name", "meta", "message"),
    [
        ("FooList", "struct", "struct name should not end in 'List'"),
        ("Foo", "event", "name of event must not use lowercase or '-'"),
        ("Foo", "command", "name of command must not use uppercase or '_'"),
        ("foo", "enum", "name of enum must use CamelCase"),
    ],
)
def test_definition_names_rejected(name: str, meta: str, message: str) -> None:
    assert error_of(lambda: check_defn_name(name, INFO, meta)) == f"names.json:7: {message}"


def test_definition_names_accepted() -> None:
    check_defn_name("FooBar", INFO, "union")
    check_defn_name("foo-bar", INFO, "command")
    check_defn_name("FOO_BAR", INFO, "event")


def test_command_name_exceptions_come_from_the_pragma() -> None:
    pragma = Pragma()
    pragma.command_name_exceptions = frozenset({"odd_name"})
    info = SourceInfo("names.json", 3, None, pragma)
    check_defn_name("odd_name", info, "command")
    assert "must not use uppercase or '_'" in error_of(
        lambda: check_defn_name("other_name", info, "command")
    )
