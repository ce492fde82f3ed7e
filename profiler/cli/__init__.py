"""The `effprof` command. The only package that imports typer; maps errors to exit codes.

`effprof model.py ...` is the profile command; other first words name subcommands.
Exit codes: 0 fine, 1 a budget exceeded, 2 bad input (usage, files, models; a model file that
calls sys.exit), 3 internal error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import signal
import sys
from typing import Any, Iterator, Protocol, cast

from ..errors import EffprofError, model_exit_message, spelled_as
from .app import app, command_words
from .flags import COMMAND_LINE

# a command is one file: every cli/NAME_cmd.py registers its commands on `app` when imported
for _command_file in pkgutil.iter_modules(__path__):
    if _command_file.name.endswith("_cmd"):
        importlib.import_module(f"{__name__}.{_command_file.name}")

__all__ = ["main", "app"]

USAGE_ERROR = 2
INTERNAL_ERROR = 3
INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def _route(argv: list[str]) -> list[str]:
    """Insert the implicit 'profile' subcommand: `effprof model.py` = `effprof profile model.py`."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or first in command_words():
        return argv
    if not argv or argv[0] in ("--help", "-h", "--version"):
        return argv
    return ["profile", *argv]


class _Interrupted(BaseException):
    """Ctrl-C, raised instead of KeyboardInterrupt so that no layer (typer turns a KeyboardInterrupt
    into a silent exit, click into "Aborted!" and exit 1) handles it before `main` does."""


@contextlib.contextmanager
def _ctrl_c_raises_interrupted() -> Iterator[None]:
    def interrupt(signum: int, frame: Any) -> None:
        raise _Interrupted()

    try:
        previous = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _raised_by_cli_framework(done: SystemExit) -> bool:
    """Whether typer/click raised this SystemExit (a usage error, --help, typer.Exit), not user code."""
    tb = done.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return module.split(".")[0] in ("typer", "click")


def _caused_by_interrupt(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, (KeyboardInterrupt, _Interrupted)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    # library errors name settings in the Python API's words; here they read as this command line's flags
    with spelled_as(COMMAND_LINE):
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = _route([a for a in argv if a != "--debug"])
    try:
        with _ctrl_c_raises_interrupted():
            # not standalone: usage errors come here as exceptions (one line below), typer.Exit(N) as N
            code = app(args=argv, prog_name="effprof", standalone_mode=False)
        if code == INTERRUPTED:  # typer turns a KeyboardInterrupt raised in a command into exit code 130
            return _interrupted()
        return code if isinstance(code, int) else 0
    except SystemExit as done:
        if _caused_by_interrupt(done):
            return _interrupted()
        if _raised_by_cli_framework(done):
            return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if debug:
            raise
        # the user's code (the model file, its builder or its forward) called sys.exit
        print(f"effprof: error: {model_exit_message(done)}", file=sys.stderr)
        return USAGE_ERROR
    except (KeyboardInterrupt, _Interrupted):
        return _interrupted()
    except EffprofError as error:
        if debug:
            raise
        print(f"effprof: error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as error:  # noqa: BLE001 - last line of defence: one line, not a traceback
        if _is_usage_error(error):
            return _usage_error(error)
        if debug:
            raise
        print(f"effprof: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)", file=sys.stderr)
        return INTERNAL_ERROR
    return 0


def _is_usage_error(error: Exception) -> bool:
    """A mistyped option or argument, as click (vendored by typer) reports it."""
    return type(error).__module__.split(".")[0] in ("typer", "click") and hasattr(error, "format_message")


class _ClickError(Protocol):
    """What a click usage error offers (matched by module name: typer vendors click's types)."""

    def format_message(self) -> str: ...

    def show(self) -> None: ...


def _usage_error(error: Exception) -> int:
    click_error = cast(_ClickError, error)
    message = click_error.format_message()
    if type(error).__name__ == "NoArgsIsHelpError":  # `effprof` or `effprof hw` alone: the help is the answer
        click_error.show()
        return int(getattr(error, "exit_code", USAGE_ERROR))
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else "effprof"
    print(f"effprof: error: {message} (see `{command} --help`)", file=sys.stderr)
    return int(getattr(error, "exit_code", USAGE_ERROR) or USAGE_ERROR)


def _interrupted() -> int:
    print("effprof: interrupted", file=sys.stderr)
    return INTERRUPTED


def entry_point() -> None:
    sys.exit(main())
