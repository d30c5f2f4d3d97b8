"""Every random stream of an analysis derived from one seed.

``numpy.random.SeedSequence(seed, spawn_key=(i,))`` gives independent, reproducible streams
(O'Neill 2015, PCG; NumPy's recommended way to seed parallel work); each stream has a fixed
index here, so adding a stream never changes the numbers of the others.
"""

from __future__ import annotations

import numpy as np

STREAMS = ("sampler", "refit", "predictive", "study_effects", "prior", "quadrature", "level_predictive",
           "within", "separate")
SEED_MAX = 2**32 - 1  # what every sampler accepts


def _sequence(seed: int, stream: str) -> np.random.SeedSequence:
    return np.random.SeedSequence(int(seed), spawn_key=(STREAMS.index(stream),))


def rng(seed: int, stream: str) -> np.random.Generator:
    """The generator of ``stream`` for an analysis seeded with ``seed``."""
    return np.random.default_rng(_sequence(seed, stream))


def int_seed(seed: int, stream: str) -> int:
    """A 32-bit integer seed of ``stream``, for samplers that take an integer."""
    return int(_sequence(seed, stream).generate_state(1)[0])
