"""Neuroevolution (notes: "Neuroevolution"): evolve networks' weights and topologies.

* :class:`CNE` - conventional neuroevolution: a genetic algorithm on the flat
  weight vector of a fixed network; :func:`population_forward` evaluates a
  whole population with one batched matrix product per layer.
* :class:`NEAT` - NeuroEvolution of Augmenting Topologies (Stanley &
  Miikkulainen 2002), its genomes (:class:`Genome`), configuration
  (:class:`NEATConfig`) and phenotypes (:class:`PopulationNetwork`).
* :class:`HyperNEAT` - CPPNs (:func:`cppn_image`) evolved by NEAT paint the
  weights of a network on a geometric :class:`Substrate`.
* :class:`DevelopmentalNetwork` - developmental (plastic) networks: genomes
  of initial weights and local Hebbian rules, connections that grow while the
  network acts (:class:`DevelopmentalPopulation`, :class:`DevelopmentalGenome`).
* :mod:`envs` - XOR, pole balancing, visual discrimination, a two-armed
  bandit, Gymnasium.
* :class:`NSGA2` - multi-objective evolution (Deb et al. 2002) of real
  vectors or network weights; :func:`pareto_front`, :func:`non_dominated_sort`,
  :func:`crowding_distance`, :func:`hypervolume`, :func:`igd`,
  :func:`convergence`, :func:`spread`; test problems in :mod:`problems`.
* :class:`CoSyNE` (one subpopulation per weight, Gomez et al. 2008) and
  :class:`ESP` (one subpopulation of neurons per hidden position): cooperative
  coevolution; :class:`Staged` - incremental evolution through ever harder
  tasks; cascading elitism (:mod:`.cascading`) - ``selection="cascading"`` of
  CNE and NEAT, one selection event per fitness function.

The single-population algorithms (NEAT, HyperNEAT, CNE, CoSyNE, ESP) share
``run(fitness, generations, executor=None, callbacks=None, stop=None, ...)``,
which returns a :class:`Result` (see :mod:`.core` for the protocol). The others
take what they combine: ``NSGA2.run(objectives, n_variables, bounds,
generations, ...)`` returns a :class:`ParetoResult`;
``Staged.run(algorithm, generations, ...)``,
``Coevolution.run(generations, ...)`` and ``Interactive.run(generations)``
return a :class:`Result`.

Extending the layer (CoSyNE, ESP, NSGA-II, ...): keep the population as arrays,
evaluate it with :func:`.core.evaluate` (per individual, serial or through any
``concurrent.futures.Executor``, individuals shipped as plain data and rebuilt
by a module-level ``decode``) or :func:`.core.vector_fitness` (the whole
population at once), record each generation with :func:`.core.record` and
drive the loop with :func:`.core.run_loop`; environments in :mod:`.envs`
score any object following the population protocol described there
(``size``, ``__call__``, ``step``, ``reset``, ``keep``, ``take``), e.g.
:class:`PopulationModel` for weight vectors of a fixed network.
"""

from . import activations, envs, problems
from .cne import CNE, PopulationModel, population_forward
from .coevolution import Coevolution, shared_fitness, shared_sample
from .config import ConfigError, NEATConfig
from .core import FitnessError, Result
from .cosyne import CoSyNE
from .cppn import HyperNEAT, Substrate, SubstrateNetwork, cppn_config, cppn_image, grid
from .demonstration import Demonstration, Imitation, Recorder, record_demonstration
from .developmental import DevelopmentalGenome, DevelopmentalNetwork, DevelopmentalPopulation
from .draw import draw
from .esp import ESP
from .gallery import GalleryServer
from .genome import ConnectionGene, Genome, GenomeFormatError, NodeGene
from .interactive import Interactive, encode_png, write_png
from .neat import NEAT, InnovationTracker, Species, compatibility_distance, crossover, speciate
from .network import Network, PopulationNetwork
from .nsga2 import NSGA2, ParetoResult, count_connections, error_and_connections
from .pareto import (
    convergence,
    crowding_distance,
    hypervolume,
    igd,
    non_dominated_sort,
    pareto_front,
    spread,
)
from .staged import Staged

__all__ = [
    "CNE", "ConfigError", "HyperNEAT", "Substrate", "SubstrateNetwork", "cppn_config",
    "cppn_image", "grid", "ConnectionGene", "FitnessError", "Genome", "GenomeFormatError",
    "InnovationTracker", "NEAT", "NEATConfig", "Network", "NodeGene", "PopulationModel",
    "PopulationNetwork", "Result", "Species", "activations", "compatibility_distance",
    "crossover", "draw", "envs", "population_forward", "speciate",
]
__all__ += [
    "NSGA2", "ParetoResult", "convergence", "count_connections", "crowding_distance",
    "error_and_connections", "hypervolume", "igd", "non_dominated_sort", "pareto_front",
    "problems", "spread",
]
__all__ += ["Coevolution", "shared_fitness", "shared_sample"]
__all__ += ["GalleryServer", "Interactive", "encode_png", "write_png"]
__all__ += ["Demonstration", "Imitation", "Recorder", "record_demonstration"]
__all__ += ["CoSyNE", "ESP", "Staged"]
__all__ += ["DevelopmentalGenome", "DevelopmentalNetwork", "DevelopmentalPopulation"]
