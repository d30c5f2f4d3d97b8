"""The choices the package offers, in one light module (the command line builds its options from it
without importing the engines)."""

PROPORTION_MEASURES = ("PFT", "PLO", "PR")
MEDIAN_MEASURES = ("LOGMEDIAN", "MEDIAN")
BINARY_MEASURES = PROPORTION_MEASURES + ("GLMM",)  # GLMM: the binomial-normal model, PLO effects
TAU2_METHODS = ("DL", "REML", "PM", "ML")
TAU2_CHOICES = TAU2_METHODS + ("FE",)  # FE: the common-effect model
ENGINES = ("mcmc", "quadrature")
SAMPLERS = ("nutpie", "pymc")
DEFAULT_SEED = 20261123
