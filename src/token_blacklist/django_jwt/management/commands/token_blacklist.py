"""``manage.py token_blacklist revoke|check|doctor [options]``: the ``token-blacklist``
command against the Redis of ``settings.TOKEN_BLACKLIST`` (its URL, Cluster, prefix, CA
file, user and password), for people who live in ``manage.py``. Options given after the
subcommand win; ``manage.py token_blacklist doctor --help`` lists them. Needs the ``cli``
extra. Sentinel settings are refused: give the primary's ``--redis-url``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from token_blacklist.django_jwt.config import SHARED
from token_blacklist.settings import BlacklistSettings

SUBCOMMANDS = ("revoke", "check", "doctor")


def connection_arguments(settings: BlacklistSettings, given: list[str]) -> list[str]:
    """The CLI options naming the settings' Redis, except those the user gave."""
    arguments: list[str] = []
    if "--prefix" not in given:
        arguments += ["--prefix", settings.prefix]
    if settings.cluster and "--cluster" not in given:
        arguments.append("--cluster")
    ca_file = settings.redis_options.get("ssl_ca_certs")
    if ca_file and "--tls-ca-file" not in given:
        arguments += ["--tls-ca-file", str(ca_file)]
    return arguments


def connection_environment(settings: BlacklistSettings) -> dict[str, str]:
    """The URL and credentials go through the environment: a password on the command line
    would be visible to other users (the CLI warns about it)."""
    environment = {}
    if settings.url:
        environment["REDIS_URL"] = settings.url
    for option, variable in (("username", "REDIS_USERNAME"), ("password", "REDIS_PASSWORD")):
        value = settings.redis_options.get(option)
        if value:
            environment[variable] = str(value)
    return environment


class Command(BaseCommand):
    help = "token-blacklist revoke|check|doctor against the Redis of settings.TOKEN_BLACKLIST"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subcommand", choices=SUBCOMMANDS)
        parser.add_argument("arguments", nargs=argparse.REMAINDER)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from token_blacklist import cli
        except ImportError as missing:
            raise CommandError(
                "needs the cli extra: pip install 'token-blacklist[cli]'"
            ) from missing
        settings = SHARED.settings
        if settings.sentinels:
            raise CommandError("Sentinel settings: give the primary's --redis-url instead")
        given: list[str] = list(options["arguments"])
        if "--redis-url" not in given:
            os.environ.update(connection_environment(settings))
        argv = [options["subcommand"], *connection_arguments(settings, given), *given]
        code = cli.main(argv)
        if code:
            sys.exit(code)
