"""The `effprof` command. The only package that imports typer; maps errors to exit codes.

`effprof model.py ...` is the profile command; other first words name subcommands.
Exit codes: 0 fine, 1 a budget exceeded, 2 bad input (usage, files, models), 3 internal error.
"""

from __future__ import annotations

import sys

from ..errors import EffprofError
from .app import app, SUBCOMMANDS
from . import advise_cmd, calibrate_cmd, check_cmd, compare_cmd, hw_cmd, llm_cmd, profile_cmd  # noqa: F401  (register commands)

__all__ = ["main", "app"]

INTERNAL_ERROR = 3


def _route(argv: list[str]) -> list[str]:
    """Insert the implicit 'profile' subcommand: `effprof model.py` = `effprof profile model.py`."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or first in SUBCOMMANDS:
        return argv
    if not argv or argv[0] in ("--help", "-h", "--version"):
        return argv
    return ["profile", *argv]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = _route([a for a in argv if a != "--debug"])
    try:
        # standalone: click prints its own usage errors (exit 2) and turns typer.Exit into SystemExit
        app(args=argv, prog_name="effprof", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except EffprofError as error:
        if debug:
            raise
        print(f"effprof: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("effprof: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - last line of defence: one line, not a traceback
        if debug:
            raise
        print(f"effprof: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)", file=sys.stderr)
        return INTERNAL_ERROR
    return 0


def entry_point() -> None:
    sys.exit(main())
