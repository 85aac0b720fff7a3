"""Tab completion: the shell code prints, and a completion request names commands/options."""

from __future__ import annotations

import os
import subprocess

from .conftest import cli_env, command


def _complete(line: str, tmp_path) -> list[str]:
    answer = tmp_path / "completions"
    env = cli_env(
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS="\n",
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
        _ARGCOMPLETE_STDOUT_FILENAME=str(answer),
    )
    done = subprocess.run(
        [*command()], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return [item.strip() for item in answer.read_text().split("\n")]


def test_commands_and_options_complete(tmp_path):
    assert "revoke" in _complete("token-blacklist rev", tmp_path)
    assert set(_complete("token-blacklist ", tmp_path)) >= {
        "demo", "revoke", "check", "doctor", "bench", "completion"
    }  # fmt: skip
    options = _complete("token-blacklist revoke --res", tmp_path)
    assert options == ["--resume-from"]


def test_completion_prints_the_shell_code(cli):
    for shell in ("bash", "zsh", "fish"):
        ran = cli("completion", shell)
        assert ran.code == 0, ran.err
        assert "token-blacklist" in ran.out and len(ran.out) > 200, shell
    assert cli("completion", "cmd.exe").code == 2
    assert os.environ.get("_ARGCOMPLETE") is None  # the suite itself is no completion run
