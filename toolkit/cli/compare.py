"""`emoedge compare`: what int8 costs, overall and per class."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from emoedge.cli import app
from emoedge.cli.common import check_output, console, data_option, out, print_table, user_errors


@app.command(
    "compare",
    help="""Compare a float model with its quantized build on a FER+ split.

FLOAT is a .keras file or zoo:<name>; QUANTIZED is a build folder from
`emoedge export` (or a .tflite / .xml / .onnx file). Prints the accuracy of
both, the drop in points, how often they agree, and per-class recall deltas;
writes report.json and confusion.png (both confusion matrices side by side).

\b
  emoedge compare zoo:mini_xception builds/mini_xception-rpi-int8 --split test
""",
)
@user_errors
def compare_command(
    float_model: str = typer.Argument(
        ..., metavar="FLOAT", help="Float model: .keras or zoo:<name>."
    ),
    quantized: Path = typer.Argument(..., metavar="QUANTIZED", help="Build folder or model file."),
    data: Path = data_option("FER+ root folder."),
    split: str = typer.Option("test", "--split", help="train, valid or test."),
    protocol: str = typer.Option("majority", "--protocol", help="majority or all_faces."),
    limit: int = typer.Option(None, "--limit", min=1, help="Evaluate a class-stratified subset."),
    out_dir: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Report folder (default: next to the build, <build>.compare-<split>).",
    ),
    threads: int = typer.Option(None, "--threads", help="Runtime threads (default: all cores)."),
) -> None:
    from emoedge.compare import compare_models, default_report_dir

    out_dir = out_dir or default_report_dir(quantized, split)
    check_output(out_dir, "--out")
    with console.status(f"running both models on FER+ {split}"):
        report = compare_models(
            float_model,
            quantized,
            data,
            split=split,
            protocol=protocol,
            limit=limit,
            out=out_dir,
            threads=threads,
        )
    f, q = report["float"], report["quantized"]
    label = f"{q['format']} {q['precision']}"
    table = Table(title=f"FER+ {split} ({protocol}), {report['data']['images']} images")
    table.add_column("class")
    table.add_column("support", justify="right")
    table.add_column("float recall", justify="right")
    table.add_column(f"{label} recall", justify="right")
    table.add_column("delta (points)", justify="right")
    for name, row in report["per_class"].items():
        delta = row["recall_delta_points"]
        colour = "red" if delta < -1 else "green" if delta > 1 else ""
        table.add_row(
            name,
            str(row["support"]),
            f"{row['float_recall']:.2%}",
            f"{row['quantized_recall']:.2%}",
            f"[{colour}]{delta:+.2f}[/{colour}]" if colour else f"{delta:+.2f}",
        )
    print_table(table)
    out.print(f"float accuracy:     {f['accuracy']:.2%} (macro-F1 {f['macro_f1']:.3f})")
    out.print(
        f"{label} accuracy: {q['accuracy']:.2%} (macro-F1 {q['macro_f1']:.3f}) on {q['runtime']['runtime']}"
    )
    out.print(f"drop: {report['drop_points']:.2f} points; agreement {report['agreement']:.2%}")
    out.print(
        f"report: {report['outputs']['json']}; confusion matrices: {report['outputs']['png']}"
    )
