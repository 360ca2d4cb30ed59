"""Shared pieces of the command modules: the error boundary, console, progress bars."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from emoedge.data.location import DATA_ENV, DEFAULT_FERPLUS
from emoedge.errors import EmoedgeError, UserInputError

# soft wrap: a status line piped to a log file stays one line, not cut at 80 columns
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)  # results go to stdout, logs and errors to stderr
log = logging.getLogger("emoedge.cli")
#: columns for a table on stdout when it is a file or a pipe
PIPED_TABLE_WIDTH = 170

F = TypeVar("F", bound=Callable)


def user_errors(func: F) -> F:
    """Turn emoedge's own exceptions into one red line and an exit code.

    2 for bad input (a missing file, a wrong column count, an unknown name), 1 for
    other deliberate failures (e.g. the int8 accuracy gate). Real bugs keep their
    traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UserInputError as exc:
            console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except EmoedgeError as exc:
            console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def data_option(help: str) -> Any:
    """`--data` as every command that reads FER+ declares it, so that they share one
    default folder and one environment variable (`emoedge.data.location`) and a
    user points them all at a dataset once."""
    return typer.Option(DEFAULT_FERPLUS, "--data", envvar=DATA_ENV, help=help)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def print_table(table) -> None:
    """A table on stdout: the terminal's width there, else wide enough for whole cells
    (piped to a file, rich assumes 80 columns and cuts names to "zoo:mi…")."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(width=PIPED_TABLE_WIDTH).print(table)


def check_output(path: Path, option: str, folder: bool = True) -> None:
    """Stop before any work, with one line naming the option, when an output cannot be
    written: a path under a file, a read-only disk. It ended commands in an OSError
    traceback, `emoedge bench` after all its measurements. Nothing is created here."""
    target = path if folder else path.parent
    chain = (target, *target.parents)
    blocker = next((p for p in chain if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise UserInputError(f"{path}: cannot write {option} there: {blocker} is a file")
    existing = next(p for p in chain if p.exists())
    if not os.access(existing, os.W_OK):
        raise UserInputError(f"{path}: cannot write {option} there: {existing} is not writable")
    if not folder and path.is_dir():
        raise UserInputError(f"{path}: {option} names a folder; give a file name")
