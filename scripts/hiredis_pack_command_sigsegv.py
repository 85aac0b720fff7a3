"""Upstream-ready reproduction: ``hiredis.pack_command`` dereferences NULL when converting
a non-bytes argument fails (hiredis-py 3.5.0, ``src/pack.c``: the result of
``PyObject_Repr``/``PyObject_Str`` on an int or float argument is used without a NULL
check).

Two ways to make the conversion fail, each run in a child interpreter so this script can
report how it died:

1. deterministic: ``hiredis.pack_command((b"SET", b"k", 10**5000))``; ``repr()`` of that int
   raises ``ValueError`` (Python's limit on int-to-str digits), and the process gets SIGSEGV;
2. what a production process meets: a signal whose Python handler raises (a request
   timeout, Ctrl-C) while ``pack_command`` converts an int (a TTL). CPython's int-to-decimal
   conversion calls ``PyErr_CheckSignals()``, the handler's exception makes ``repr`` return
   NULL, and the process gets SIGSEGV instead of the exception.

Expected: a ``ValueError``/the handler's exception raised out of ``pack_command``. With bytes
arguments nothing is converted and neither can happen, which is why token-blacklist hands
redis-py (and so hiredis) bytes only.

    python scripts/hiredis_pack_command_sigsegv.py     # needs: pip install hiredis
"""

from __future__ import annotations

import signal
import subprocess
import sys

DETERMINISTIC = """
import hiredis
hiredis.pack_command((b"SET", b"k", 10**5000))
print("no crash: raised nothing")
"""

BY_SIGNAL = """
import signal, hiredis

class Interrupt(Exception):
    pass

def handler(signum, frame):
    raise Interrupt

signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
caught = 0
big = 7 ** 2000  # many digits: a long conversion, so the signal lands inside it
while caught < 2000:
    try:
        hiredis.pack_command((b"SET", b"k", big))
    except Interrupt:
        caught += 1  # the signal landed outside the conversion (the expected way)
signal.setitimer(signal.ITIMER_REAL, 0)
print(f"no crash in {caught} interrupts")
"""


def run(name: str, code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode < 0:
        outcome = f"killed by {signal.Signals(-done.returncode).name}"
    else:
        outcome = f"exit {done.returncode}: {(done.stdout + done.stderr).strip()[-200:]}"
    print(f"{name}: {outcome}")


def main() -> None:
    import hiredis

    print(f"hiredis {hiredis.__version__}, Python {sys.version.split()[0]}")
    run("pack_command((b'SET', b'k', 10**5000))", DETERMINISTIC)
    run("pack_command with an int while a raising signal handler fires", BY_SIGNAL)


if __name__ == "__main__":
    main()
