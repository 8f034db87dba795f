"""The agent's tests use QEMU as the interop tests start it (tests/interop/qmp_targets.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "machine"))
