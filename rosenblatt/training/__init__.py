"""The training loop, callbacks, augmentation, curriculum and transfer helpers (notes: "Training
neural networks")."""

from . import callbacks, metrics
from .augmentation import ImageAugmentation, shift_rotate
from .callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientMonitor,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
)
from .curriculum import Curriculum
from .fit import DivergenceError, Trainer, evaluate, fit, predict
from .history import History
from .rewire import Rewire
from .tbptt import tbptt_fit
from .transfer import feature_extractor, features, replace_output

__all__ = [
    "Callback", "Checkpoint", "Curriculum", "DivergenceError", "EarlyStopping", "GradientMonitor",
    "History", "ImageAugmentation", "LambdaCallback", "LearningRateScheduler", "ReduceLROnPlateau",
    "Trainer",
    "callbacks", "evaluate", "feature_extractor", "features", "fit", "metrics", "predict",
    "replace_output",
    "shift_rotate", "tbptt_fit",
]
__all__ += ["Rewire"]
