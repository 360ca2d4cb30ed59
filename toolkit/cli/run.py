"""`emoedge run`: detect, classify and track faces from a camera, video, stream or folder."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from emoedge.cli import app
from emoedge.cli.common import check_output, console, out, progress_bar, user_errors
from emoedge.errors import UserInputError
from emoedge.targets.pipeline_config import SETTINGS

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: `auto` is run's own: what smoothing means depends on the source (`_smoothing_and_tracking`).
SMOOTHING_CHOICES = ("auto", *SETTINGS["smoothing"].choices)


def _setting(name: str, *flags: str, **options: Any) -> Any:
    """The option for one of the pipeline's settings, with its default, range and help
    from `PipelineConfig` (the daemon's `[pipeline]` keys are made from it too)."""
    setting = SETTINGS[name]
    return typer.Option(
        setting.default, *flags, min=setting.ge, max=setting.le, help=setting.doc, **options
    )


@app.command(
    "run",
    help="""Run a build on frames: detect faces, classify emotions, track and smooth.

\b
SOURCE forms:
  0, 1                       V4L2 camera index
  camera, camera:1           the build target's camera: picamera2 (rpi),
                             CSI via GStreamer (jetson), V4L2 (x86)
  picamera2, picamera2:1     Raspberry Pi camera (needs python3-picamera2)
  "v4l2src ! ... ! appsink"  GStreamer pipeline (OpenCV built with GStreamer)
  rtsp://..., http(s)://...  network stream
  clip.mp4, photos/, a.jpg   video file, image folder (name order), one image

Writes one JSON line per frame (--json; '-' for stdout): frame_index, file
(image folders and images: the photo's name), timestamp, faces (track_id, box
[x,y,w,h], label, score, probabilities, detector_score) and per-stage timings
in ms (capture, detect, classify, track, total). --output writes an annotated
video (mp4v) the size of the first frame; photos of other sizes are letterboxed
into it. Smoothing (auto) and tracking are on for videos, cameras and streams.
An image folder's photos are unrelated: neither smoothed nor tracked, track ids
number each photo's faces, largest first; --smoothing ema or vote says the
folder holds a sequence of frames and tracks it like a video. Live sources
capture in a thread and drop the oldest frame when the model falls behind.
Example:

\b
  emoedge run builds/mobilenet_v2-rpi-int8 --source tests/fixtures/wild/images --json out.jsonl
""",
)
@user_errors
def run_command(
    build: Path = typer.Argument(..., help="Build folder written by `emoedge export`."),
    source: str = typer.Option(
        ...,
        "--source",
        "-s",
        help="Camera index, picamera2, GStreamer pipeline, URL, video file, image folder or image.",
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Write an annotated video (.mp4)."),
    json_path: str = typer.Option(
        None, "--json", "-j", help="Write JSON lines here ('-': stdout)."
    ),
    show: bool = typer.Option(
        False,
        "--show",
        help="Show annotated frames in a window (needs an "
        "OpenCV build with GUI support, not opencv-python-headless).",
    ),
    runtime: str = _setting("runtime", "--runtime"),
    threads: int = _setting("threads", "--threads"),
    detector: str = _setting("detector", "--detector"),
    tiles: int = _setting("detector_tiles", "--tiles"),
    smoothing: str = typer.Option(
        "auto",
        "--smoothing",
        help=f"{' | '.join(SMOOTHING_CHOICES)}. {SETTINGS['smoothing'].doc} auto: "
        f"{SETTINGS['smoothing'].default} for videos, cameras and streams; none, untracked, "
        "for an image folder's photos.",
    ),
    max_faces: int = _setting("max_faces", "--max-faces"),
    align: bool = _setting("align", "--align/--no-align"),
    min_face: int = _setting("min_face", "--min-face"),
    flip_tta: bool = _setting("flip_tta", "--flip-tta"),
    max_frames: int = typer.Option(
        None, "--max-frames", min=1, help="Stop after this many frames."
    ),
    realtime: bool = typer.Option(
        None,
        "--realtime/--no-realtime",
        help="Capture in a thread and drop old frames (default: on for cameras and streams).",
    ),
    loop: bool = typer.Option(False, "--loop", help="Restart a video or folder at its end."),
    fps: float = typer.Option(
        None, "--fps", min=0.1, help="Frame rate of --output (default: the source's, else 10)."
    ),
    save_crops: Path = typer.Option(
        None,
        "--save-crops",
        help="Save each classified face crop as the model saw it before resizing "
        "(framed as FER+ faces, padded at the frame's edge, levelled with --align) "
        "as PNG named <frame>_<track>.png.",
    ),
    print_faces: bool = typer.Option(
        False,
        "--print-faces",
        help="Print one readable line per frame with its faces and emotions.",
    ),
) -> None:
    from emoedge.targets.manifest import Build
    from emoedge.targets.pipeline import Pipeline
    from emoedge.targets.sources import FolderReader, open_source

    # The build first, checksums included: opening a camera or stream can fail for
    # its own reasons, which would hide a mistyped build path behind them.
    Build.load(build)
    if smoothing not in SMOOTHING_CHOICES:
        raise UserInputError(
            f"--smoothing must be one of {', '.join(SMOOTHING_CHOICES)}, got {smoothing!r}"
        )
    if output is not None and output.suffix.lower() not in (".mp4", ".avi", ".mkv", ".mov"):
        raise UserInputError(f"{output}: --output must be a video file (.mp4, .avi, .mkv, .mov)")
    if show:
        _check_gui()
    for path, option, folder in (
        (Path(json_path) if json_path not in (None, "-") else None, "--json", False),
        (output, "--output", False),
        (save_crops, "--save-crops", True),
    ):
        if path is not None:
            check_output(path, option, folder=folder)
    source = _device_camera(source, build)
    frames_source = open_source(source, realtime=realtime, loop=loop)
    _stop_on_sigterm()
    with frames_source:
        smoothing, tracking = _smoothing_and_tracking(
            smoothing, photos=isinstance(frames_source.reader, FolderReader)
        )
        pipeline = Pipeline.from_build(
            build,
            runtime=runtime,
            threads=threads,
            detector=detector,
            detector_tiles=tiles,
            smoothing=smoothing,
            tracking=tracking,
            max_faces=max_faces,
            min_face=min_face,
            align=align,
            flip_tta=flip_tta,
        )
        info = pipeline.describe()
        console.print(
            f"[dim]{frames_source.description} -> {info['target']} build, {info['format']} "
            f"{info['precision']} on {info['runtime']['runtime']}, detector "
            f"{info['detector_label']}, "
            f"smoothing {info['smoothing']}[/dim]",
            highlight=False,
        )
        summary = _loop(
            pipeline,
            frames_source,
            output=output,
            json_path=json_path,
            show=show,
            max_frames=max_frames,
            fps=fps,
            save_crops=save_crops,
            print_faces=print_faces,
        )
    # results go to stdout, unless stdout already carries the JSON lines
    _print_summary(summary, frames_source.dropped, console if json_path == "-" else out)


def _smoothing_and_tracking(asked: str, *, photos: bool) -> tuple[str, bool]:
    """What `--smoothing` means for this source, as (smoothing, tracking).

    Photos in a folder are unrelated: a track carried from one photo to the next
    says two people are one (frames 0, 1 and 4-9 of the wild sample were all track
    1), so a folder is not tracked unless the user asks for ema or vote smoothing,
    which only makes sense on a folder holding a video's frames.
    """
    if not photos:
        return (SETTINGS["smoothing"].default if asked == "auto" else asked), True
    smoothing = "none" if asked == "auto" else asked
    return smoothing, smoothing != "none"


def _stop_on_sigterm() -> None:
    """`timeout`, systemd and `docker stop` end a run with SIGTERM, whose default
    kills the process where it stands: the --output video without its index (no
    player opens it) and the JSON lines without their tail. Finish as on Ctrl-C."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _device_camera(source: str, build: Path) -> str:
    """`camera` / `camera:N` means the build's target camera (picamera2 on rpi, the CSI
    GStreamer pipeline on jetson, V4L2 on x86) and a /dev/videoN node its index: the
    meaning `emoedge.targets.profiles.device_camera` gives the daemon too."""
    from emoedge.targets.manifest import Build
    from emoedge.targets.profiles import device_camera

    spec = device_camera(source, Build.load(build, verify=False).target)
    if str(spec) != source:
        console.print(f"[dim]camera {source}: {spec}[/dim]", highlight=False)
    return str(spec)


def _check_gui() -> None:
    import cv2

    try:
        cv2.namedWindow("emoedge")
        cv2.destroyWindow("emoedge")
    except cv2.error:
        raise UserInputError(
            "--show needs OpenCV with GUI support (pip install opencv-python, not -headless) "
            "and a display; use --output instead"
        ) from None


class _VideoOut:
    """An mp4v writer opened on the first frame's size; frames of another size are
    letterboxed into it.

    A folder's photos need not share a size, a video has one: stretching an 82x76
    photo to a 350x350 first one distorted every face. Writing each annotated photo
    to a folder would keep its own size, but one video serves every source alike,
    and a looping folder, Ctrl-C and SIGTERM all end it the same way.
    """

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.writer = None
        self.size: tuple[int, int] | None = None

    def write(self, image) -> None:
        import cv2

        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.size = (image.shape[1], image.shape[0])
            self.writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size
            )
            if not self.writer.isOpened():
                raise UserInputError(f"{self.path}: cannot write a video here")
        if (image.shape[1], image.shape[0]) != self.size:
            image = _letterbox(image, self.size)
        self.writer.write(image)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def _letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to fit `size` (width, height) with its aspect ratio kept,
    centred on black."""
    import cv2
    import numpy as np

    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    fitted_w = max(1, min(width, round(image.shape[1] * scale)))
    fitted_h = max(1, min(height, round(image.shape[0] * scale)))
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    fitted = cv2.resize(image, (fitted_w, fitted_h), interpolation=shrink)
    canvas = np.zeros((height, width, *image.shape[2:]), image.dtype)
    top, left = (height - fitted_h) // 2, (width - fitted_w) // 2
    canvas[top : top + fitted_h, left : left + fitted_w] = fitted
    return canvas


def _face_line(result) -> str:
    """`frame 3: #1 happiness 0.82 at (40, 52, 210x214)` — for people, not parsers."""
    if result.error:
        return f"frame {result.frame_index}: {result.error}"
    if not result.faces and not result.unread:
        return f"frame {result.frame_index}: no face"
    faces = [
        f"#{face.track_id} {face.label} {face.score:.2f} at "
        f"({face.box[0]}, {face.box[1]}, {face.box[2]}x{face.box[3]})"
        for face in result.faces
    ]
    faces += [
        f"unread at ({face.box[0]}, {face.box[1]}, {face.box[2]}x{face.box[3]}): {face.reason}"
        for face in result.unread
    ]
    return f"frame {result.frame_index}: {'; '.join(faces)}"


def _loop(
    pipeline,
    frames_source,
    *,
    output,
    json_path,
    show,
    max_frames,
    fps,
    save_crops,
    print_faces=False,
) -> dict:
    import cv2

    from emoedge.data.preprocess import as_uint8_image
    from emoedge.targets.pipeline import annotate

    sink = None
    if json_path == "-":
        sink = sys.stdout
    elif json_path:
        try:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            # line-buffered: each frame's record is on disk when the next starts, so a
            # killed run (SIGKILL, out of memory, a runtime crash) loses no more than it
            sink = open(json_path, "w", buffering=1)  # noqa: SIM115 - closed in finally
        except OSError as exc:
            raise UserInputError(
                f"{json_path}: cannot write --json there ({exc.strerror})"
            ) from exc
    video = _VideoOut(output, fps or frames_source.reader.fps or 10.0) if output else None
    if save_crops:
        save_crops.mkdir(parents=True, exist_ok=True)
    stats: dict = {
        "frames": 0,
        "faces": 0,
        "errors": 0,
        "labels": Counter(),
        "timings": Counter(),
        "start": time.perf_counter(),
    }
    total = frames_source.reader.length if not frames_source.loop else None
    if max_frames:
        total = min(total, max_frames) if total else max_frames
    progress = progress_bar() if sink is not sys.stdout else None
    try:
        if progress:
            progress.start()
            task = progress.add_task("frames", total=total)
        for frame in frames_source:
            result = pipeline(
                frame.image,
                frame.timestamp,
                frame_index=frame.index,
                capture_ms=frame.capture_ms,
                file=frame.file,
            )
            stats["frames"] += 1
            stats["faces"] += len(result.faces)
            stats["errors"] += result.error is not None
            stats["labels"].update(face.label for face in result.faces)
            stats["timings"].update(result.timings)
            if sink is not None:
                sink.write(json.dumps(result.to_dict()) + "\n")
                if sink is sys.stdout:
                    sink.flush()  # a reader at the other end of a pipe gets each frame now
            if print_faces:
                (console if sink is sys.stdout else out).print(_face_line(result), highlight=False)
            if save_crops and result.faces:
                image = as_uint8_image(frame.image)
                for face in result.faces:
                    crop_path = save_crops / f"{frame.index:06d}_{face.track_id}.png"
                    if not cv2.imwrite(str(crop_path), pipeline.crop(image, face)):
                        raise UserInputError(f"{crop_path}: could not write the crop (disk full?)")
            if video is not None or show:
                drawn = annotate(frame.image, result) if result.error is None else None
                if drawn is not None and video is not None:
                    video.write(drawn)
                if drawn is not None and show:
                    cv2.imshow("emoedge", drawn)
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        break
            if progress:
                progress.advance(task)
            if max_frames and stats["frames"] >= max_frames:
                break
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
    finally:
        if progress:
            progress.stop()
        if sink is not None and sink is not sys.stdout:
            sink.close()
        if video is not None:
            video.close()
        if show:
            cv2.destroyAllWindows()
    stats["seconds"] = time.perf_counter() - stats["start"]
    if stats["frames"] == 0:
        raise UserInputError(f"{frames_source.description}: gave no frames")
    return stats


def _print_summary(stats: dict, dropped: int, to) -> None:
    frames = stats["frames"]
    fps = frames / stats["seconds"] if stats["seconds"] > 0 else 0.0
    mean = {k: v / frames for k, v in stats["timings"].items()}
    stages = ", ".join(
        f"{k} {mean[k]:.1f}"
        for k in ("capture", "detect", "classify", "track", "total")
        if k in mean
    )
    to.print(f"frames: {frames} ({fps:.1f} fps end to end), dropped by the queue: {dropped}")
    to.print(
        f"faces: {stats['faces']}; labels: "
        + (", ".join(f"{k} {v}" for k, v in stats["labels"].most_common()) or "none")
    )
    to.print(f"mean ms per frame: {stages}")
    if stats["errors"]:
        to.print(f"frames that could not be processed: {stats['errors']}")
