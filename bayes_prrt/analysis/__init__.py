"""Analyses declared by a spec: the spec, the pipeline and the validation against the published values."""
