"""The ``omr`` command (CONTRACT.md): one module of this package per command, put together here.

``COMMANDS`` names, for each command, the module whose ``register(subparsers)`` builds its parser
and sets ``func`` (``args -> exit status``). To run a command only its own module is imported:
importing the others costs every run (Flask for ``omr serve``, the tally for ``omr export``). They
are all imported for ``--help`` and for a mistyped command, whose error lists them all. A module
that cannot be imported because a part of the product is not installed (Flask, Celery) is skipped:
its commands are simply absent.

A user's mistake never shows a traceback: ``main`` turns the product's own errors, template errors
and file-system errors into one Vietnamese line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from omr.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, UserError, message

# command -> its module, in the order ``omr --help`` lists them
COMMANDS: dict[str, str] = {
    "forms": "omr.cli.forms",
    "units": "omr.cli.units",
    "print": "omr.cli.print_sheets",
    "scan": "omr.cli.scan",
    "users": "omr.cli.users",
    "init": "omr.cli.init",
    "export": "omr.cli.export",  # tallies and reports
    "serve": "omr.cli.serve",  # the web application
    "demo": "omr.cli.serve",  # sample data, demo logins, then the web application
    "worker": "omr.cli.worker",  # a queue worker
    "backup": "omr.cli.backup",
    "restore": "omr.cli.backup",
    "batches": "omr.cli.periods",  # the survey month of scan batches
    "reports": "omr.cli.periods",  # the register of issued reports
    "reread": "omr.cli.reread",  # stored pages read again by the current reader
    "doctor": "omr.cli.doctor",  # checks and repairs the data directory
}


def _registers(modules: Sequence[str]) -> list[Callable]:
    found = []
    for name in dict.fromkeys(modules):  # a module with two commands registers both, once
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and not e.name.startswith("omr"):
                continue  # a library of an optional part is not installed: its commands are absent
            raise
        found.append(mod.register)
    return found


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command or, given the ``command`` about to run, for that one alone."""
    parser = Parser(prog="omr", description="In phiếu khảo sát, đọc phiếu quét, tổng hợp kết quả.")
    parser.add_argument("--version", action="version", version=f"omr {_version()}", help="phiên bản của omr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    modules = [COMMANDS[command]] if command in COMMANDS else list(COMMANDS.values())
    for register in _registers(modules):
        register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("omr-hailong")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(chưa cài đặt)"


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import DatabaseError as SQLDatabaseError
    from sqlalchemy.exc import OperationalError

    from db.session import DatabaseError
    from omr.config import ConfigError
    from omr.services import ServiceError
    from omr.sheet.layout import LayoutError
    from omr.sheet.templates import TemplateError, UnknownForm

    argv = sys.argv[1:] if argv is None else list(argv)
    # ``omr`` itself takes no option but --help, so a command line that runs a command begins with it
    command = argv[0] if argv and not argv[0].startswith("-") else None
    try:
        parser = build_parser(command)
    except TemplateError as e:  # a broken form file stops every command, with its name and line
        print(f"omr: {message(e)}", file=sys.stderr)
        return EXIT_FAILED
    args = parser.parse_args(argv)
    expected = (UserError, ServiceError, UnknownForm, TemplateError, LayoutError, ConfigError, DatabaseError, OSError)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader of our output went away (e.g. ``| head``): not an error of ours; keep Python from
        # complaining when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OperationalError as e:
        print(f"omr {args.command}: Lỗi cơ sở dữ liệu: {message(e.orig or e)}", file=sys.stderr)
        return EXIT_FAILED
    except SQLDatabaseError:
        # e.g. a database file overwritten or cut short: nothing a retry or OMR_DEBUG would change
        from sqlalchemy.engine import make_url

        from omr import config

        where = make_url(config.database_url()).render_as_string(hide_password=True)
        print(f"omr {args.command}: lỗi: cơ sở dữ liệu hỏng, không đọc được ({where}); hãy khôi phục từ bản sao lưu",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    except expected as e:
        code = EXIT_USAGE if isinstance(e, UserError | ServiceError | UnknownForm) else EXIT_FAILED
        print(f"omr {args.command}: {message(e)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("Đã dừng.", file=sys.stderr)
        return 130
    except Exception as e:
        # a fault of ours, not the user's: still one line, with the way to get the details
        from omr import config

        if config.debug():
            raise
        print(
            f"omr {args.command}: Lỗi không mong đợi ({type(e).__name__}: {message(e)}); "
            "chạy lại với OMR_DEBUG=1 để xem chi tiết",
            file=sys.stderr,
        )
        return EXIT_FAILED


def run() -> None:
    sys.exit(main())
