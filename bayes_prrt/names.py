"""The choices the package offers, in one light module (the command line builds its options from it
without importing the engines)."""

PROPORTION_MEASURES = ("PFT", "PLO", "PR")
MEDIAN_MEASURES = ("LOGMEDIAN", "MEDIAN")
BINARY_MEASURES = PROPORTION_MEASURES + ("GLMM",)  # GLMM: the binomial-normal model, PLO effects
TAU2_METHODS = ("DL", "REML", "PM", "ML")
TAU2_CHOICES = TAU2_METHODS + ("FE",)  # FE: the common-effect model
MEDIAN_SE_RULES = ("ci", "ci+n")  # a median without a CI: left out, or its SE from n (effects.py)
MEDIAN_LIKELIHOODS = ("split", "normal")  # a median's 95% CI: split normal, or one symmetric SE (median_likelihood.py)
DEFAULT_MEDIAN_LIKELIHOOD = "split"  # of a spec, the API and the command line; the engines' own default is "normal"
ENGINES = ("mcmc", "quadrature")
SAMPLERS = ("nutpie", "pymc")
DEFAULT_SEED = 20261123
