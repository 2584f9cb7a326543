"""The captions of the notes' figures: the figures were lost, the captions remain.

Every figure of the notes is redrawn by a chapter from live computation: a
chapter passes the notes' caption to ``ctx.figure(..., notes="A LSTM unit")``
and the report numbers the figure, prints the notes' caption first and lists,
in its closing note, every caption with the chapter and figure that redraw it.

:data:`FIRST_HALF` is the notes up to "Unsupervised neural networks",
:data:`SECOND_HALF` the rest (Bottou's three figures, redrawn by the
modular chapter). The captions are the notes' own lines, without the
trailing " source" link text; the exploding-gradient cost cliff has no
caption line in the notes (its figure and caption were both lost), so it is
listed under the name the notes' text gives it.
"""

FIRST_HALF = (
    "XOR",
    "The sigmoid function",
    "The step function",
    "Sigmoid activation function",
    "tanh activation function",
    "ReLU activation function",
    "1D Gaussian RBF",
    "The Ricker Wavelet",
    "Simple neural network",
    "Single sigmoid neuron",
    "A neural network",
    "Adversarial example",
    "More complex network, more complex functions",
    "Regularization strength",
    "A network after dropout is applied to each layer in a training iteration",
    "The exploding-gradient cost cliff",
    "A layer as a grid",
    "Local receptive fields map to a neuron in the hidden layer",
    "Moving across fields at a stride length of 1",
    "Mapping from feature map to a pooling layer",
    "An example convolutional network",
    "Convolution kernel example",
    "Simple RNN network, with hidden nodes looping",
    "Simple RNN network, with hidden nodes looping over time",
    "A LSTM unit",
)

SECOND_HALF = (
    "A modular neural network (Bottou (2011))",
    "Using association modules (Bottou (2011))",
    "A recursive neural network (Bottou (2011))",
)

ALL = FIRST_HALF + SECOND_HALF


def check(names):
    """``names`` (a caption or a sequence of them) as a tuple, each one of the notes' captions.

    >>> check("XOR")
    ('XOR',)
    >>> check("A LSTM")
    Traceback (most recent call last):
    ...
    ValueError: ctx.figure: notes='A LSTM' is not a caption of the notes (tour/captions.py)
    """
    names = (names,) if isinstance(names, str) else tuple(names)
    for name in names:
        if name not in ALL:
            raise ValueError(f"ctx.figure: notes={name!r} is not a caption of the notes "
                             f"(tour/captions.py)")
    return names
