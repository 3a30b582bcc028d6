"""The ``genai-harness`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from genai_harness.errors import EXIT_CODES, ConfigurationError, HarnessError

Command = Callable[[argparse.Namespace], int]


def _exit_code_help() -> str:
    return "exit codes: " + ", ".join(f"{code} {name}" for name, code in EXIT_CODES.items())


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="genai-harness",
        description="Benchmark ONNX GenAI runtimes on every device of this machine.",
        epilog=_exit_code_help(),
    )
    parser.add_argument("--config", type=Path, default=None,
                        help="configuration file (default: ./genai-harness.toml or $GENAI_HARNESS_CONFIG)")
    parser.add_argument("--python", action="append", default=[], metavar="NAME=PATH",
                        help="another Python environment to enumerate and run in (repeatable)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    devices = sub.add_parser("devices", help="list every backend, device and the machine profile")
    devices.add_argument("--json", action="store_true", help="print JSON")
    devices.add_argument("--all", action="store_true", help="also list unavailable backends of other environments")
    devices.set_defaults(handler=_cmd_devices)

    envs = sub.add_parser("envs", help="list or register Python environments")
    envs.add_argument("--add", metavar="NAME=PATH", help="register an interpreter in the config file")
    envs.add_argument("--remove", metavar="NAME", help="remove an environment from the config file")
    envs.add_argument("--allow", action="store_true",
                      help="approve the interpreters the config file names, as it is now (see README: trust)")
    envs.set_defaults(handler=_cmd_envs)

    from genai_harness.commands import ab, compare, direct, models, node, pick, report, results, run

    run.add_parser(sub)
    results.add_parser(sub)
    node.add_parser(sub)
    compare.add_parser(sub)
    ab.add_parser(sub)
    pick.add_parser(sub)
    report.add_parser(sub)
    models.add_parser(sub)
    direct.add_parsers(sub)
    return parser


def _context(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    from genai_harness.config import load_config
    from genai_harness.runner.environments import configured_environments

    config = load_config(args.config)
    return config, configured_environments(config, args.python)


def _cmd_devices(args: argparse.Namespace) -> int:
    from genai_harness.host.fingerprint import machine_profile
    from genai_harness.runner.inventory import collect_inventory

    _, environments = _context(args)
    inventories = collect_inventory(environments)
    profile = machine_profile({inv.environment.name: inv.versions() for inv in inventories
                               if not inv.environment.is_default})
    if args.json:
        print(json.dumps({"machine": profile, "environments": [inv.to_dict() for inv in inventories]}, indent=2))
        return 0
    from genai_harness.commands.devices import render_devices

    print(render_devices(profile, inventories, show_all=args.all))
    return 0


def _environments_table(document: dict[str, object], path: Path) -> dict[str, object]:
    """The config document's [environments] table, created if absent, refused if not a table."""
    envs = document.setdefault("environments", {})
    if not isinstance(envs, dict):
        raise ConfigurationError(f"{path}: environments = {envs!r} must be a table ([environments.NAME] with "
                                 "python = PATH); fix or remove that line")
    return envs


def _cmd_envs(args: argparse.Namespace) -> int:
    from genai_harness.config import load_config
    from genai_harness.runner.environments import (
        check_interpreter,
        configured_environments,
        parse_python_option,
    )
    from genai_harness.tables import format_table
    from genai_harness.trust import approve, untrusted_reason

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
        print(f"approved the interpreters of {config.path.resolve()} (environments: {names}) in {where}")
        return 0
    environments = configured_environments(config, args.python, check=False)
    print(format_table(["name", "python", "source"],
                       [(e.name, e.python, e.source) for e in environments], max_width=90))
    return 0


def _visible(char: str) -> str:
    """A control or line-separator character as its escape (user input echoed in a message stays one line)."""
    if char == "\t" or not (unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in "\x85"):
        return char
    return char.encode("unicode_escape").decode("ascii")


def one_line(text: str) -> str:
    """A runtime's multi-line error as one line, without OpenVINO's source-location noise."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    kept = [ln for ln in lines if not ln.startswith("Exception from src/")]
    return "".join(map(_visible, " ".join(kept or lines)))


TRACEBACK_ENV_VAR = "GENAI_HARNESS_TRACEBACK"


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """A warning of the harness as one line on stderr (no source location); others as Python shows them."""
    from genai_harness.runner.environments import UntrustedConfigWarning

    if not issubclass(category, UntrustedConfigWarning):
        warnings._showwarnmsg_impl(warnings.WarningMessage(message, category, filename, lineno, file, line))  # type: ignore[attr-defined]
        return
    print(f"genai-harness: warning: {one_line(str(message))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a HarnessError becomes one readable line and its exit code.

    SIGTERM and SIGHUP are handled like Ctrl-C (exit 143, 129; Ctrl-C 130). An unexpected exception
    is one line too (exit 70, never 1: 1 is "regression found"), with its traceback only when
    ``$GENAI_HARNESS_TRACEBACK`` is set.
    """
    from genai_harness.runner.signals import signals_interrupt

    parser = build_parser()
    args = parser.parse_args(argv)
    previous_showwarning = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        with signals_interrupt():
            return args.handler(args)
    except HarnessError as exc:
        print(f"genai-harness: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", None)
        print(f"genai-harness: interrupted by {name}" if name else "genai-harness: interrupted", file=sys.stderr)
        return int(getattr(exc, "exit_code", EXIT_CODES["interrupted"]))
    except BrokenPipeError:
        return 0
    except (RecursionError, MemoryError) as exc:
        print(f"genai-harness: error: input too large or nested too deeply ({type(exc).__name__}); "
              "check the files and options given", file=sys.stderr)
        return EXIT_CODES["ConfigurationError"]
    except Exception as exc:
        if os.environ.get(TRACEBACK_ENV_VAR):
            raise
        print(f"genai-harness: error: internal error {type(exc).__name__}: {one_line(str(exc))[:500]} "
              f"(a bug: rerun with {TRACEBACK_ENV_VAR}=1 and report the traceback)", file=sys.stderr)
        return HarnessError.exit_code
    finally:
        warnings.showwarning = previous_showwarning


if __name__ == "__main__":
    sys.exit(main())
