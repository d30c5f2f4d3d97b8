"""Sensitivity of the Bayesian conclusions to priors, to single studies and to data choices."""
