"""Data sets: generators of the notes' toy problems, loaders, readers, preprocessing.

``rb.datasets.load(name)`` by catalog name (``list_datasets()``), or the
functions directly.
"""

from .catalog import list_datasets, load, register_dataset
from .generators import and_, circles, logic, moons, or_, sine, spirals, two_spirals, xor
from .loaders import load_digits, load_mnist1d, load_mnist_sample
from .preprocessing import Standardizer, one_hot, split, standardize, train_test_split
from .readers import CIFAR10_CLASSES, read_cifar10, read_idx, read_mnist
from .sequences import (
    REBER_SYMBOLS,
    CharText,
    adding_problem,
    associative_recall,
    bit_error_metric,
    bit_errors_per_sequence,
    copy_bits,
    copy_task,
    embedded_reber,
    encode_reber,
    masked_targets,
    read_text,
    reber_strings,
    repeat_copy,
)
from .trees import (
    ARITHMETIC_WORDS,
    SENTIMENT_WORDS,
    Tree,
    arithmetic_trees,
    parse_tree,
    read_treebank,
    sentiment_trees,
)

__all__ = [
    "CIFAR10_CLASSES", "Standardizer", "and_", "circles", "list_datasets", "load", "load_digits",
    "load_mnist1d", "load_mnist_sample", "logic", "moons", "one_hot", "or_", "read_cifar10",
    "read_idx", "read_mnist", "register_dataset", "sine", "spirals", "split", "standardize",
    "train_test_split", "two_spirals", "xor",
    "REBER_SYMBOLS", "CharText", "adding_problem", "copy_task", "embedded_reber", "encode_reber",
    "read_text", "reber_strings",
    "associative_recall", "bit_error_metric", "bit_errors_per_sequence", "copy_bits",
    "masked_targets", "repeat_copy",
]
__all__ += ["ARITHMETIC_WORDS", "SENTIMENT_WORDS", "Tree", "arithmetic_trees", "parse_tree",
            "read_treebank", "sentiment_trees"]
