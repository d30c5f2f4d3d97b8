"""Power-scaling sensitivity (Kallioinen et al. 2023, Stat Comput 34:57) with ArviZ ``psens``.

The prior (mu and tau only: z's N(0,1) is part of the random-effects model) and the
likelihood are each raised to a power near 1; the change of each parameter's posterior is
measured. Above 0.05 a component is influential. Diagnosis in words: prior and likelihood
both influential -> prior-data conflict; prior influential, likelihood not -> the data say
little, the prior decides.
"""

from __future__ import annotations

import arviz as az

THRESHOLD = 0.05
PARAMETERS = ("mu", "tau")


def power_scaling(result) -> dict:
    """psens of mu and tau for an MCMC result (its idata has log_prior and log_likelihood groups),
    with a diagnosis per parameter."""
    idata = result.idata
    prior = az.psens(idata, component="prior", var_names=list(PARAMETERS), component_var_names=list(PARAMETERS))
    likelihood = az.psens(idata, component="likelihood", var_names=list(PARAMETERS))
    out = {}
    for name in PARAMETERS:
        p, lik = float(prior[name]), float(likelihood[name])
        if p >= THRESHOLD and lik >= THRESHOLD:
            diagnosis = "prior-data conflict: prior and data pull apart"
        elif p >= THRESHOLD:
            diagnosis = "weak likelihood: the prior decides"
        else:
            diagnosis = "-"
        out[name] = {"prior": p, "likelihood": lik, "diagnosis": diagnosis}
    return out
