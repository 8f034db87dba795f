"""The generated Python API: up to date in the repository, importable, typed, and usable."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from pyqmp.codegen.python import generate_python, module_name_for
from pyqmp.machine import machine_qapi
from pyqmp.machine.app import schema_path
from pyqmp.schema import load_schema


def test_machine_api_is_generated_from_the_machine_schema() -> None:
    """The committed module is exactly what the generator makes of the committed schema:
    nothing in it is typed by hand, and it cannot drift from the schema."""
    fresh = generate_python(load_schema(schema_path()), "machine.json")
    committed = Path(machine_qapi.__file__).read_text(encoding="utf-8")
    assert committed == fresh, (
        "regenerate: pyqmp schema gen python src/pyqmp/machine/qapi/machine.json "
        "-o src/pyqmp/machine"
    )


def test_module_name() -> None:
    assert module_name_for("/x/machine.json") == "machine_qapi"
    assert module_name_for("qapi-schema.json") == "qapi_schema_qapi"


@pytest.fixture(scope="module")
def qemu_api(qemu_source: Path, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    schema = load_schema(str(qemu_source / "qapi" / "qapi-schema.json"))
    path = tmp_path_factory.mktemp("gen") / "qemu_qapi.py"
    path.write_text(generate_python(schema, "qapi-schema.json"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("qemu_qapi", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["qemu_qapi"] = module
    spec.loader.exec_module(module)
    return module


def test_qemu_schema_generates_an_importable_module(qemu_api: ModuleType) -> None:
    assert len(qemu_api.COMMAND_METHODS) > 200
    assert qemu_api.COMMAND_METHODS["query-status"] == "query_status"
    assert qemu_api.COMMAND_METHODS["blockdev-add"] == "blockdev_add"
    assert "blockdev-add" in qemu_api.BOXED_COMMANDS


def test_generated_types_decode_and_validate(qemu_api: ModuleType) -> None:
    arguments = qemu_api.COMMAND_ARGUMENTS["balloon"]
    assert msgspec.convert({"value": 5}, arguments).value == 5
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"value": "5"}, arguments)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"value": 5, "bogus": 1}, arguments)
    # a union, tagged by its discriminator, with its base and branch members flattened
    builtin = msgspec.convert(
        {"name": "int", "meta-type": "builtin", "json-type": "int"}, qemu_api.SchemaInfo
    )
    assert builtin.json_type == "int"
    # wire names with '-' are kept on the wire, spelled with '_' in Python
    assert msgspec.json.encode(builtin) == (
        b'{"meta-type":"builtin","name":"int","json-type":"int"}'
    )
    # sized integers carry their range
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(300, qemu_api.Uint8)


def test_events_hand_their_data_to_send(qemu_api: ModuleType) -> None:
    sent: list[tuple[str, object]] = []
    events = qemu_api.Events(lambda name, data: sent.append((name, data)))
    events.balloon_change(actual=5)
    events.stop()
    assert sent == [("BALLOON_CHANGE", {"actual": 5}), ("STOP", None)]


def test_schema_names_that_clash_with_the_generated_modules_own(tmp_path: Path) -> None:
    """A schema may name a type Int or Any: it gets a trailing '_', and the module's own
    names keep their meaning."""
    schema_file = tmp_path / "clash.json"
    schema_file.write_text(
        "{ 'struct': 'Int', 'data': { 'z': 'str' } }\n"
        "{ 'struct': 'Any', 'data': { 'y': 'int' } }\n"
        "{ 'command': 'go', 'data': { 'v': 'int', 'w': 'any', 'x': 'Int' } }\n"
    )
    path = tmp_path / "clash_qapi.py"
    path.write_text(generate_python(load_schema(str(schema_file)), "clash.json"))
    spec = importlib.util.spec_from_file_location("clash_qapi", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["clash_qapi"] = module
    spec.loader.exec_module(module)
    decoded = msgspec.convert(
        {"v": 5, "w": [1, "x"], "x": {"z": "s"}}, module.COMMAND_ARGUMENTS["go"]
    )
    assert decoded.v == 5 and decoded.w == [1, "x"]
    assert isinstance(decoded.x, module.Int_)
