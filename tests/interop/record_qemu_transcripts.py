"""Record real QEMU's transcripts of every scripted session into qemu_7.2_transcripts.json.

    .venv/bin/python tests/interop/record_qemu_transcripts.py [--qemu BINARY] [--output FILE]
                                                               [--print] [--session NAME]...

The file is QEMU's observed output (data, not code): for each session, every step with the bytes
sent, the exact lines received (CRLF included), the parsed messages, and how the connection ended.
test_qemu_sessions.py checks that it still normalizes to the expectations written there.  With
`--print` the transcripts are also printed in a readable form.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qmp_compare import Transcript
from qmp_sessions import REFERENCE_TRANSCRIPTS, SESSIONS, SESSIONS_BY_NAME, run_session
from qmp_targets import DEFAULT_QEMU_BINARY, QemuTarget


def format_transcript(transcript: Transcript) -> str:
    lines = [f"== {transcript['session']} ({transcript['target']})"]
    for record in transcript["steps"]:
        sent = record["sent"]
        lines.append(f"-- {record['step']} [connection {record['connection']}]")
        if sent is not None:
            lines.append(f"   >> {sent!r}")
        lines.extend(f"   << {line.rstrip()}" for line in record["received"])
        if record["closed"]:
            lines.append(f"   (connection closed: {record['closed']})")
        if record["timed_out"]:
            lines.append("   (timed out)")
    if transcript["exit_status"] is not None:
        lines.append(f"   (exit status {transcript['exit_status']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qemu", default=DEFAULT_QEMU_BINARY, help="QEMU binary to run")
    parser.add_argument(
        "--output",
        type=Path,
        default=REFERENCE_TRANSCRIPTS,
        help="file to write (default: %(default)s); '-' for none",
    )
    parser.add_argument("--print", action="store_true", help="print the transcripts")
    parser.add_argument(
        "--session",
        action="append",
        choices=sorted(SESSIONS_BY_NAME),
        help="record only these sessions (not written to the reference file)",
    )
    options = parser.parse_args(argv)

    sessions = (
        [SESSIONS_BY_NAME[name] for name in options.session] if options.session else list(SESSIONS)
    )
    target = QemuTarget(binary=options.qemu)
    transcripts = {session.name: run_session(target, session) for session in sessions}
    if options.print:
        for transcript in transcripts.values():
            print(format_transcript(transcript))
    greeting = next(iter(transcripts.values()))["steps"][0]["messages"][0]
    if str(options.output) != "-" and not options.session:
        data = {
            "about": "QEMU's replies to the scripted sessions of tests/interop/qmp_sessions.py, "
            "as recorded by record_qemu_transcripts.py; observed output, not code",
            "qemu_version": greeting.get("QMP", {}).get("version"),
            "sessions": transcripts,
        }
        options.output.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {len(transcripts)} sessions to {options.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
