"""`emoedge data inspect`: what a dataset folder holds before you train on it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from emoedge.cli import app
from emoedge.cli.common import out, print_table, user_errors
from emoedge.labels import EMOTIONS

data_app = typer.Typer(help="Look at datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("inspect")
@user_errors
def inspect(
    root: Path = typer.Argument(
        ..., help="FER+ root (FER2013Train/Valid/Test) or a folder-per-class root."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Class counts, vote agreement and image sizes of a dataset folder."""
    from emoedge.data.ferplus import SPLITS
    from emoedge.data.inspect import inspect_ferplus, inspect_folders

    is_ferplus = root.is_dir() and any((root / folder).is_dir() for folder in SPLITS.values())
    summary = inspect_ferplus(root) if is_ferplus else inspect_folders(root)
    if as_json:
        out.print_json(json.dumps(summary))
        return
    if summary["format"] == "folders":
        table = Table(title=f"{root}: {summary['images']} images")
        table.add_column("class")
        table.add_column("images", justify="right")
        for name, count in summary["class_counts"].items():
            table.add_row(name, str(count))
        print_table(table)
        out.print(f"image sizes (sample): {summary['image_sizes_sampled']}")
        return
    splits = summary["splits"]
    table = Table(title=f"FER+ at {root} (majority protocol class counts)")
    table.add_column("")
    for split in splits:
        table.add_column(split, justify="right")
    rows = [
        ("rows in label.csv", "rows"),
        ("kept: FER+ majority", "majority_images"),
        ("kept: FER+ all faces", "all_faces_images"),
        ("top vote unknown/NF", "unknown_or_nf_top"),
    ]
    for title, key in rows:
        table.add_row(title, *(str(s[key]) for s in splits.values()))
    for name in EMOTIONS:
        table.add_row(
            f"  {name}", *(str(s["class_counts_majority"][name]) for s in splits.values())
        )
    table.add_row(
        "mean top-vote share", *(f"{s['mean_top_vote_share']:.1%}" for s in splits.values())
    )
    table.add_row("unanimous images", *(f"{s['unanimous_share']:.1%}" for s in splits.values()))
    table.add_row("mean annotators", *(f"{s['mean_voters']:.1f}" for s in splits.values()))
    table.add_row(
        "image sizes (sample)", *(", ".join(s["image_sizes_sampled"]) for s in splits.values())
    )
    print_table(table)
