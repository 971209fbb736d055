"""A small neural-network engine in NumPy: MLP, losses from logits, SGD/Adam, fit()."""

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .fit import History, evaluate, fit
from .losses import LOSSES, OUTPUT_FOR_LOSS
from .network import DTYPES, MLP
from .optimizers import OPTIMIZERS, SGD, Adam
from .scaling import Standardizer

__all__ = [
    "ACTIVATIONS",
    "DTYPES",
    "HIDDEN_ACTIVATIONS",
    "LOSSES",
    "MLP",
    "OPTIMIZERS",
    "OUTPUT_FOR_LOSS",
    "SGD",
    "Adam",
    "History",
    "Standardizer",
    "evaluate",
    "fit",
]
