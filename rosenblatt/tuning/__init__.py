"""Hyper-parameter search: grid, random and Gaussian-process Bayesian optimisation.

Notes section: "Choosing hyperparameters". SciPy is imported on first use (by
the Gaussian process and the acquisition's optimiser), so importing the
package stays fast.
"""

from .gaussian_process import GaussianProcess
from .space import Choice, Int, LogUniform, Space, Uniform

__all__ = ["Choice", "GaussianProcess", "Int", "LogUniform", "Space", "Uniform"]
