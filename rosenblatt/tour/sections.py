"""The notes' sections, in the notes' order: the one place that orders the tour.

A chapter names the section of the notes it demonstrates
(``@chapter(..., section="Dropout")``); the tour runs chapters in the order of
their sections here, which is the order of the headings in the notes
(``neural-nets.txt``), subsections included, whether or not a chapter exists
for them yet. A new chapter only has to name its section; a section missing
from this list is an error the tour's tests report, saying where to add it.

Names match the notes' headings; a chapter may leave out a parenthesised part
and the case (``"Convolutional Neural Networks"`` names
``"Convolutional Neural Networks (CNNs)"``). Two headings of the notes are
left out because they repeat ("Network architecture", under both CNNs and
RNNs): name the enclosing section instead.
"""

import re

NOTES_SECTIONS = (
    "Biological basis",
    "Perceptrons",
    "Sigmoid (logistic) neurons",
    "Activation functions",
    "Common activation functions",
    "Softmax function",
    "Radial basis functions",
    "Feed-forward neural networks",
    "Training neural networks",
    "Backpropagation",
    "The chain rule of derivatives (refresher)",
    "The details",
    "Considerations",
    "Statistical (stochastic) training",
    "Learning rates",
    "Adaptive learning rates",
    "Separate adaptive learning rates",
    "Training algorithms",
    "Momentum",
    "Nesterov momentum",
    "Adagrad",
    "Adadelta",
    "Adam",
    "Batch Normalization",
    "Cost (loss/objective/error) functions",
    "Log-likelihood cost function",
    "Common loss functions",
    "Weight initialization",
    "Shuffling & curriculum learning",
    "Gradient noise",
    "Adversarial examples",
    "Gradient Checking",
    "Training tips",
    "Transfer Learning",
    "Network architectures",
    "Overfitting",
    "Regularization",
    "L2 Regularization",
    "L1 Regularization",
    "Elastic net regularization",
    "Max norm constraints",
    "Dropout",
    "Regularization recommendations",
    "Artificially expanding the training set",
    "Hyperparameters",
    "Choosing hyperparameters",
    "Tweaking hyperparameters",
    "Deep neural networks",
    "Unstable gradients",
    "Resilient backpropgation (Rprop)",  # sic: the notes' spelling
    "Rmsprop",
    "Convolutional Neural Networks (CNNs)",
    "Local receptive fields",
    "Shared weights",
    "Pooling layers",
    "Training CNNs",
    "Convolution kernels",
    "Recurrent Neural Networks (RNNs)",
    "RNN inputs",
    "Training RNNs",
    "LSTMs",
    "GRUs",
    "Peephole connections",
    "Update gates",
    "BI-RNNs",
    "Attention mechanisms",
    "Unsupervised neural networks",
    "Autoencoders",
    "Sparse autoencoders",
    "Denoising autoencoders",
    "Loss functions for autoencoders",
    "Loss function gradient in autoencoders",
    "Contractive autoencoders",
    "Contractive vs denoising autoencoders",
    "Deep autoencoders",
    "Shallow autoencoders for pre-training",
    "Sparse Coding",
    "Restricted Boltzmann machines",
    "Deep Belief Nets",
    "Other neural networks",
    "Modular Neural Networks",
    "Recursive Neural Networks",
    "Nonlinear neural nets",
    "Neural Turing Machines",
    "Content-based addressing",
    "Location-based addressing",
    "Neuroevolution",
    "Generative Adversarial Networks",
    "Training generative adversarial networks",
)


def normalize(name):
    """Lower case, parenthesised parts dropped, spaces collapsed: the key names match on.

    >>> normalize("Recurrent Neural Networks (RNNs)") == normalize("recurrent neural networks")
    True
    """
    text = re.sub(r"\([^)]*\)", " ", str(name)).lower()
    return " ".join(text.split())


_RANK = {}
for _i, _name in enumerate(NOTES_SECTIONS):
    _RANK.setdefault(_name.lower(), _i)
    _RANK.setdefault(normalize(_name), _i)


def rank(section):
    """The position of ``section`` in the notes (0 first), or None when it is not a section.

    >>> rank("Perceptrons") < rank("Dropout") < rank("Neuroevolution")
    True
    >>> rank("Convolutional Neural Networks") == rank("Convolutional Neural Networks (CNNs)")
    True
    >>> rank("Not a section") is None
    True
    """
    if not isinstance(section, str):
        return None
    found = _RANK.get(section.strip().lower())
    return found if found is not None else _RANK.get(normalize(section))


def canonical(section):
    """The notes' own spelling of ``section`` (None when it is not a section)."""
    i = rank(section)
    return None if i is None else NOTES_SECTIONS[i]


def where_to_add(section):
    """A hint for a section missing from :data:`NOTES_SECTIONS`: where it would go."""
    return (f"section {section!r} is not in rosenblatt/tour/sections.py NOTES_SECTIONS; name one "
            f"of the notes' headings there (case and a parenthesised part may differ), or, if "
            f"the notes have a heading that the list lacks, add it to NOTES_SECTIONS between the "
            f"headings that precede and follow it in the notes (neural-nets.txt)")
