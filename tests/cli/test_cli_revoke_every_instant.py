"""Ctrl-C at every instant of ``token-blacklist revoke``, not only at the moments a timer
happens to hit.

A real signal runs its Python handler between two bytecode instructions of whatever the
main thread runs. Here the command runs in-process against a real Redis, and a tracer calls
the installed SIGINT handler (``StopSignals``'s, which raises or only takes note, as it
decides) at the k-th instruction executed in the command's own modules, for every k. After
each run, what the summary says must be what Redis holds, and every line before the
reported ``--resume-from`` line must be confirmed in Redis or listed in ``--failed-out``:
a line in neither would be skipped by the documented resume and never revoked.

The subprocess test in ``test_cli_revoke_runs.py`` found this class of bug about one CI
run in four (a line counted as read a few instructions before it was recorded); this test
finds it every time.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import token_blacklist.cli.revoke as revoke_module
import token_blacklist.cli.revoke_feed as feed_module
import token_blacklist.cli.stop_signals as signals_module
import token_blacklist.cli.token_lines as lines_module
from assertions import held, random_hashes
from token_blacklist._core import stream as stream_module
from token_blacklist.cli import main

from .conftest import lines_of

# The command's own code: a signal landing inside the library's call is deferred by
# StopSignals either way (the library's own interrupt tests cover that code).
TRACED = {
    str(Path(module.__file__).resolve())
    for module in (revoke_module, feed_module, signals_module, lines_module, stream_module)
    if module.__file__
}
LINES = 11  # batches of 4, 4 and 3: a stop before, inside and after each of them
BATCH = 4


class SignalAt:
    """A tracer that delivers SIGINT to its handler at the ``at``-th traced instruction."""

    def __init__(self, at: int | None) -> None:
        self.at = at
        self.count = 0
        self.fired = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            if frame.f_code.co_filename not in TRACED:
                return None
            frame.f_trace_opcodes = True
            return self
        if event == "opcode" and not self.fired:
            self.count += 1
            if self.count == self.at:
                self.fired = True
                handler = signal.getsignal(signal.SIGINT)
                if not callable(handler):  # before the command's own handler, in a shell's
                    raise KeyboardInterrupt  # background job (SIGINT ignored): as Python's
                handler(signal.SIGINT, frame)  # raises here, or only takes note
        return self


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], at: int | None) -> tuple[int, Any]:
    tracer = SignalAt(at)
    sigterm = signal.getsignal(signal.SIGTERM)
    sys.settrace(tracer)
    try:
        code = main(argv)
    except KeyboardInterrupt:  # Python's own handler: before the command took over SIGINT
        code = -1
    finally:
        sys.settrace(None)
        signal.signal(signal.SIGTERM, sigterm)
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else None), tracer


@pytest.mark.slow
def test_a_stop_at_any_instruction_loses_no_line(redis_server, admin, tmp_path, capsys):
    hashes = random_hashes(LINES)
    source = tmp_path / "hashes.txt"
    # A comment and a blank line: line numbers and entries do not match one to one.
    source.write_text("# revoked in the incident\n\n" + lines_of(hashes), encoding="utf-8")
    line_of = {h: n for n, h in enumerate(hashes, start=3)}
    failed_out = tmp_path / "failed.txt"
    argv = ["revoke", "--ttl", "600", "--batch-size", str(BATCH), "--json",
            "--progress", "none", "--failed-out", str(failed_out),
            "--redis-url", redis_server.url, str(source)]  # fmt: skip

    code, summary, tracer = _run(capsys, argv, None)
    assert code == 0 and summary["succeeded"] == LINES, summary
    total = tracer.count
    assert total > 500, total  # the tracer saw the command's code

    stopped = 0
    for at in range(1, total + 1):
        admin.flushall()
        code, summary, tracer = _run(capsys, argv, at)
        assert tracer.fired, at
        in_redis = held(admin, hashes)
        assert admin.dbsize() == len(in_redis), at
        if summary is None:  # stopped before the summary existed: nothing was sent
            assert code in {130, -1} and not in_redis, (at, code)
            stopped += 1
            continue
        if not summary["interrupted"]:  # the signal came after the last batch was recorded
            # 0, or 130 when it landed after the summary was written (main's own handler)
            assert summary["succeeded"] == LINES == len(in_redis), (at, summary)
            continue
        assert code == 130, (at, code, summary)
        stopped += 1
        resume = summary["resume_from"]
        read = {h for h in hashes if line_of[h] < resume}
        listed = set(failed_out.read_text().split()) if failed_out.exists() else set()
        assert summary["succeeded"] == len(in_redis), (at, summary)
        assert in_redis <= read, (at, summary)
        lost = sorted(line_of[h] for h in read - in_redis - listed)
        assert not lost, f"stop at instruction {at}: lines {lost} neither sent nor listed"
        assert listed <= read, (at, summary)
    assert stopped > total // 2, (stopped, total)
