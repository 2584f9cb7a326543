"""What a task accepts as "a network": a population network, or one genome or network made a
population of one (shared by the tasks that score a single network: the bandit, imitation)."""

import inspect


def one_network(network):
    """A genome's phenotype, and a developmental network (or its genes) as a population of
    one; anything else as given (duck-typed: the envs import no algorithm module)."""
    if getattr(network, "size", None) is None and inspect.ismethod(getattr(network, "network",
                                                                           None)):
        network = network.network()  # a NEAT or developmental genome, developmental genes
    if callable(getattr(network, "population", None)) and callable(getattr(network, "theta",
                                                                           None)):
        network = network.population(network.theta()[None])  # a DevelopmentalNetwork
    return network
