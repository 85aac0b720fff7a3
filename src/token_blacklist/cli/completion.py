"""``token-blacklist completion SHELL``: tab completion of commands and options.

Completion is argcomplete's (installed with the ``cli`` extra): ``main()`` hands the parser
to ``argcomplete.autocomplete``, which answers the shell and exits when the shell asks
(``_ARGCOMPLETE`` set) and does nothing otherwise. This command prints the shell code to
load once, e.g. ``eval "$(token-blacklist completion bash)"`` in ``~/.bashrc``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .exit_codes import ExitCode

__all__ = ["register", "run"]

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")

EPILOG = """\
examples:
  eval "$(token-blacklist completion bash)"       # in ~/.bashrc
  eval "$(token-blacklist completion zsh)"        # in ~/.zshrc
  token-blacklist completion fish > ~/.config/fish/completions/token-blacklist.fish

exit codes: 0 printed; 1 argcomplete is not installed (pip install 'token-blacklist[cli]');
2 wrong options
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print the shell code for tab completion",
        description="Print the shell code that completes token-blacklist's commands and options.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, nargs="?", default="bash")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from argcomplete.shell_integration import shellcode
    except ImportError:
        print(
            "token-blacklist completion: argcomplete is not installed "
            "(pip install 'token-blacklist[cli]')",
            file=sys.stderr,
        )
        return ExitCode.ERROR
    sys.stdout.write(shellcode(["token-blacklist"], shell=args.shell))
    return ExitCode.OK


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request, if this run is one (then exits)."""
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)
