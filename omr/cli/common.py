"""What every ``omr`` command shares: its errors, its parser class, JSON output, a database session.

A user's mistake is a ``UserError`` (one line, exit status 2); ``omr.cli.main`` turns it and the
product's own errors into that line.
"""

from __future__ import annotations

import argparse
import json
import sys

from omr.vocab import sentence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_ARGPARSE_VI = (
    ("the following arguments are required", "thiếu tham số bắt buộc"),
    ("unrecognized arguments", "tham số không hiểu được"),
    ("invalid choice", "lựa chọn không hợp lệ"),
    ("choose from", "chọn một trong"),
    ("invalid int value", "không phải số nguyên"),
    ("invalid float value", "không phải số"),
    ("expected one argument", "cần một giá trị"),
    ("not allowed with argument", "không dùng chung được với"),
    ("one of the arguments", "cần một trong các tham số"),
    ("is required", "là bắt buộc"),
)


class UserError(Exception):
    """A mistake in the command line itself; printed as one line, exit status 2."""


USAGE = "cách dùng: "


class _Formatter(argparse.HelpFormatter):
    """argparse's help with its one English word, the usage line's prefix, in Vietnamese."""

    def add_usage(self, usage, actions, groups, prefix=None) -> None:  # type: ignore[no-untyped-def]
        super().add_usage(usage, actions, groups, USAGE if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """argparse in Vietnamese: its help (headings, ``-h``, the usage line) and its complaints, on one
    line with exit status 2."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("formatter_class", _Formatter)
        add_help = kwargs.get("add_help", True)
        kwargs["add_help"] = False  # our own -h below, with Vietnamese words
        super().__init__(*args, **kwargs)
        self._positionals.title = "tham số"
        self._optionals.title = "tùy chọn"
        if add_help:
            self.add_argument("-h", "--help", action="help", help="in hướng dẫn này rồi thoát")

    def error(self, message: str) -> None:  # type: ignore[override]
        for en, vi in _ARGPARSE_VI:
            message = message.replace(en, vi)
        self.exit(EXIT_USAGE, f"{self.prog}: lỗi: {message} (xem {self.prog} --help)\n")


def print_json(obj: object) -> None:
    """One JSON value on one line of standard output (CONTRACT.md's lines)."""
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def session():
    from db.session import session

    return session()


def message(e: BaseException) -> str:
    """An error as the one line a person reads."""
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return sentence(f"{where}{e.strerror or e}")
    text = str(e).strip() or type(e).__name__
    return sentence(text.splitlines()[0])


def plain_write(text: str, file=None) -> None:
    print(text, file=file or sys.stdout, flush=True)


def tqdm_write(text: str, file=None) -> None:
    """A line written above a progress bar, which stays below it."""
    from tqdm import tqdm

    tqdm.write(text, file=file or sys.stdout)
