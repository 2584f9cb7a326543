"""Hyper-parameter search: grid, random and Gaussian-process Bayesian optimisation.

Notes section: "Choosing hyperparameters". SciPy is imported on first use (by
the Gaussian process and the acquisition's optimiser), so importing the
package stays fast.
"""

from .acquisition import (
    expected_improvement,
    maximize_acquisition,
    probability_of_improvement,
    upper_confidence_bound,
)
from .gaussian_process import GaussianProcess
from .networks import MedianStopping, tune_fit
from .search import minimize
from .space import Choice, Int, LogUniform, Space, Uniform
from .study import Study, Trial

__all__ = [
    "Choice", "GaussianProcess", "Int", "LogUniform", "MedianStopping", "Space", "Study", "Trial",
    "Uniform",
    "expected_improvement", "maximize_acquisition", "minimize", "probability_of_improvement",
    "tune_fit", "upper_confidence_bound",
]
