"""The ``genai-harness`` command: the parser and the dispatch; each subcommand is a module of
:mod:`genai_harness.commands` that registers itself with ``add_parser``."""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from genai_harness.commands import ab, compare, devices, direct, envs, models, node, pick, report, results, run
from genai_harness.errors import EXIT_CODES, HarnessError
from genai_harness.results.domains import OutOfDomainWarning
from genai_harness.results.store import redact
from genai_harness.runner.environments import UntrustedConfigWarning
from genai_harness.runner.signals import signals_interrupt


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

    for command in (devices, envs, run, results, node, compare, ab, pick, report, models):
        command.add_parser(sub)
    direct.add_parsers(sub)
    return parser


def _visible(char: str) -> str:
    """A control or line-separator character as its escape (user input echoed in a message stays one line)."""
    if char == "\t" or not (unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in "\x85"):
        return char
    return char.encode("unicode_escape").decode("ascii")


def one_line(text: str) -> str:
    """A runtime's multi-line error as one line, without OpenVINO's source-location noise, and without the
    password of any URL in it (every message the CLI prints goes through here)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    kept = [ln for ln in lines if not ln.startswith("Exception from src/")]
    return redact("".join(map(_visible, " ".join(kept or lines))))


TRACEBACK_ENV_VAR = "GENAI_HARNESS_TRACEBACK"


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """A warning of the harness as one line on stderr (no source location); others as Python shows them."""
    if not issubclass(category, (UntrustedConfigWarning, OutOfDomainWarning)):
        warnings._showwarnmsg_impl(warnings.WarningMessage(message, category, filename, lineno, file, line))  # type: ignore[attr-defined]
        return
    print(f"genai-harness: warning: {one_line(str(message))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; a HarnessError becomes one readable line and its exit code.

    SIGTERM and SIGHUP are handled like Ctrl-C (exit 143, 129; Ctrl-C 130). An unexpected exception
    is one line too (exit 70, never 1: 1 is "regression found"), with its traceback only when
    ``$GENAI_HARNESS_TRACEBACK`` is set.
    """
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
