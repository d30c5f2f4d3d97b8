"""Where the packaged files are: the embedded data and the default analysis spec.

In an installed wheel they sit inside the package (``_embedded``, ``_models``); in a source
checkout they are the repository's ``data/`` and ``models/`` folders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _packaged(name: str, checkout: str) -> Path:
    packaged = Path(str(resources.files("bayes_prrt"))) / name
    return packaged if packaged.is_dir() else _ROOT / checkout


def embedded_data_dir() -> Path:
    """The folder holding the embedded CSVs."""
    return _packaged("_embedded", "data")


def default_spec_path() -> Path:
    """The default analysis spec, the one source of the default priors and sensitivity grid."""
    return _packaged("_models", "models") / "prrt_default.toml"
