"""``genai-harness envs``: list the Python environments, register or remove one, approve the config's interpreters."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genai_harness.config import load_config
from genai_harness.errors import ConfigurationError
from genai_harness.runner.environments import check_interpreter, configured_environments, parse_python_option
from genai_harness.tables import format_table
from genai_harness.trust import approve, untrusted_reason


def _environments_table(document: dict[str, object], path: Path) -> dict[str, object]:
    """The config document's [environments] table, created if absent, refused if not a table."""
    envs = document.setdefault("environments", {})
    if not isinstance(envs, dict):
        raise ConfigurationError(f"{path}: environments = {envs!r} must be a table ([environments.NAME] with "
                                 "python = PATH); fix or remove that line")
    return envs


def cmd_envs(args: argparse.Namespace) -> int:
    """Register (``--add``), remove (``--remove``) or approve (``--allow``) environments, else list them."""
    config = load_config(args.config)
    if args.add:
        name, path = parse_python_option(args.add)
        check_interpreter(path.absolute(), name)
        # The file resolves relative paths against its own folder: keep a relative path as typed
        # only when that folder is the working directory it was typed in.
        if not path.is_absolute() and config.base_dir != Path.cwd().resolve():
            path = path.absolute()
        was_trusted = untrusted_reason(config) is None
        config.update(lambda doc: _environments_table(doc, config.path).__setitem__(name, {"python": str(path)}))
        if was_trusted:  # the user typed this interpreter: the file they trusted stays trusted
            approve(config)
        print(f"registered environment {name!r} -> {path} in {config.path}")
        if not was_trusted:
            print(f"genai-harness: note: {config.path} had unapproved interpreters; review it and run "
                  "`genai-harness envs --allow`", file=sys.stderr)
        return 0
    if args.remove:
        def remove(document: dict[str, object]) -> None:
            envs = _environments_table(document, config.path)
            if args.remove not in envs:
                raise ConfigurationError(f"no environment {args.remove!r} in {config.path}; "
                                         "`genai-harness envs` lists them")
            del envs[args.remove]

        was_trusted = untrusted_reason(config) is None
        config.update(remove)
        if was_trusted:
            approve(config)
        print(f"removed environment {args.remove!r} from {config.path}")
        return 0
    if args.allow:
        if not config.path.exists():
            raise ConfigurationError(f"{config.description}: nothing to approve")
        where = approve(config)
        names = ", ".join(config.section("environments")) or "none"
        libraries = ", ".join(config.section("ep_libraries")) or "none"
        print(f"approved the interpreters and EP libraries of {config.path.resolve()} (environments: {names}; "
              f"ep_libraries: {libraries}) in {where}")
        return 0
    environments = configured_environments(config, args.python, check=False)
    print(format_table(["name", "python", "source"],
                       [(e.name, e.python, e.source) for e in environments], max_width=90))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("envs", help="list or register Python environments")
    p.add_argument("--add", metavar="NAME=PATH", help="register an interpreter in the config file")
    p.add_argument("--remove", metavar="NAME", help="remove an environment from the config file")
    p.add_argument("--allow", action="store_true",
                   help="approve the interpreters the config file names, as it is now (see README: trust)")
    p.set_defaults(handler=cmd_envs)
