"""`emoedge evaluate`: accuracy, macro-F1, per-class figures and a confusion matrix."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from emoedge.cli import app
from emoedge.cli.common import (
    check_output,
    console,
    data_option,
    out,
    print_table,
    progress_bar,
    user_errors,
)
from emoedge.data.location import check_data_format, data_format_help


@app.command()
@user_errors
def evaluate(
    model: str = typer.Argument(..., help="A .keras file, zoo:<name>, or a build folder."),
    data: Path = data_option(
        "FER+ root (FERPlus layout) or a folder-per-class root with --format folders."
    ),
    split: str = typer.Option("test", help="train | valid | test (FER+ only)."),
    protocol: str = typer.Option("majority", help="majority (headline FER+ protocol) | all_faces."),
    data_format: str = typer.Option("ferplus", "--format", help=data_format_help()),
    flip_tta: bool = typer.Option(False, help="Average with the mirrored face."),
    limit: int = typer.Option(None, min=1, help="Score a class-stratified subset of this size."),
    out_dir: Path = typer.Option(
        None,
        "--out",
        help="Where the JSON report and confusion PNG go (default: evaluations/<model>-<split>).",
    ),
) -> None:
    """Score a model on a labelled split and write a JSON report and a confusion-matrix PNG."""
    from emoedge.evaluation import (
        classification_report,
        load_predictor,
        predict_faceset,
        save_confusion_png,
        write_json,
    )

    name = model.replace("zoo:", "zoo-").replace("/", "_").strip("._") or "model"
    target = out_dir or Path("evaluations") / f"{Path(name).stem}-{split}"
    check_output(target, "--out")
    check_data_format(data_format)
    predictor, spec, info = load_predictor(model)  # a bad model fails before data loads
    if data_format == "ferplus":
        from emoedge.data.ferplus import load_ferplus

        faces = load_ferplus(data, split, protocol)
    else:
        from emoedge.data.folders import load_folders

        faces = load_folders(data, photos=data_format == "photos")
    faces = faces.limit(limit)
    with progress_bar() as progress:
        task = progress.add_task(f"evaluating on {faces.source}", total=len(faces))
        probs = predict_faceset(
            predictor,
            faces,
            spec,
            flip_tta=flip_tta,
            progress=lambda done, _t: progress.update(task, completed=done),
        )
    report = classification_report(faces.labels, probs.argmax(axis=1))
    report.update(
        {
            "model": model,
            "model_info": info,
            "data": faces.source,
            "protocol": protocol if data_format == "ferplus" else None,
            "flip_tta": flip_tta,
            "preprocess": spec.to_dict(),
        }
    )

    write_json(target / "report.json", report)
    save_confusion_png([(f"{model} on {faces.source}", report)], target / "confusion.png")

    table = Table(title=f"{model} on {faces.source} ({len(faces)} images)")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="right" if column != "class" else "left")
    for label, row in report["per_class"].items():
        table.add_row(
            label,
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["support"]),
        )
    print_table(table)
    out.print(
        f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  "
        f"images {report['images']}"
    )
    console.print(f"report: {target / 'report.json'}  confusion: {target / 'confusion.png'}")
