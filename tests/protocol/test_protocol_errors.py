"""QMP's error classes and shared error texts: defined once, in protocol/errors.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pyqmp.protocol import ERROR_CLASS_NAMES, ErrorClass
from pyqmp.protocol.errors import command_not_found, parameter_type_invalid
from pyqmp.server import errors as server_errors
from pyqmp.server.errors import CommandError

SRC = Path(__file__).resolve().parents[2] / "src" / "pyqmp"
DEFINITION = SRC / "protocol" / "errors.py"


def string_constants(path: Path) -> list[str]:
    """Every string literal of a module that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_each_error_class_is_spelled_once_in_src() -> None:
    spelled: dict[str, list[str]] = {name: [] for name in ERROR_CLASS_NAMES}
    for path in sorted(SRC.rglob("*.py")):
        for value in string_constants(path):
            if value in spelled:
                spelled[value].append(str(path.relative_to(SRC)))
    assert spelled == {name: ["protocol/errors.py"] for name in ERROR_CLASS_NAMES}


@pytest.mark.parametrize(
    "text", [command_not_found("{}"), parameter_type_invalid("{}", "{}")], ids=["found", "type"]
)
def test_shared_texts_are_written_in_one_place(text: str) -> None:
    # The fixed words of each shared text are in no string of code but the definition.
    words = max(text.split("{}"), key=len).strip()
    users = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if any(words in value for value in string_constants(path))
    ]
    assert users == ["protocol/errors.py"]


def test_server_names_are_the_protocol_definition() -> None:
    assert server_errors.GENERIC_ERROR is ErrorClass.GENERIC_ERROR
    assert server_errors.COMMAND_NOT_FOUND is ErrorClass.COMMAND_NOT_FOUND
    assert server_errors.DEVICE_NOT_ACTIVE is ErrorClass.DEVICE_NOT_ACTIVE
    assert server_errors.DEVICE_NOT_FOUND is ErrorClass.DEVICE_NOT_FOUND
    assert server_errors.KVM_MISSING_CAP is ErrorClass.KVM_MISSING_CAP
    assert server_errors.ERROR_CLASSES == ERROR_CLASS_NAMES


def test_command_error_takes_a_class_or_its_name() -> None:
    assert CommandError("x").error_class is ErrorClass.GENERIC_ERROR
    error = CommandError("gone", "DeviceNotFound")
    assert error.error_class is ErrorClass.DEVICE_NOT_FOUND
    assert error.error_class == "DeviceNotFound"
    with pytest.raises(ValueError, match="MachineStopped"):
        CommandError("the 2010 patch", "MachineStopped")
