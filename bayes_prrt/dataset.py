"""The evidence base: the embedded PRRT dataset or a user's CSV, with value-source policies.

``load_dataset()`` returns the curated data of ``data/`` (15 studies: the 14 of Wang et
al. 2026 plus the Lazarenko 2026 cohort); ``load_csv(path)`` a user's long-format file.
``Dataset.select(outcome, values=...)`` gives one row per study for one analysis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from .errors import AnalysisError, DataError
from .loader import covariate_columns, read_csv_text, read_outcomes

DATA_FILES = ("studies.csv", "outcomes.csv", "published_pooled.csv")

# how to choose one row per study when a study has several value sources
VALUE_POLICIES = {
    "published": "Wang 2026 Table 2 figures where the outcome has any; otherwise the primary "
                 "figures of the studies in the meta-analysis",
    "table2": "only Wang 2026 Table 2 figures",
    "primary": "only the primary studies' own figures (all studies)",
    "corrected": "studies in the meta-analysis, primary figures where they exist, else Table 2",
    "living": "as 'corrected', plus studies published after the meta-analysis",
}
STUDY_COVARIATES = ("label", "grade", "g3_share", "site", "setting", "drug", "design", "timing",
                    "response_criteria", "risk_of_bias", "country", "in_meta")


def embedded_data_dir() -> Path:
    """The folder holding the embedded CSVs (installed wheel or source checkout)."""
    packaged = Path(str(resources.files("bayes_prrt"))) / "_embedded"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "data"


def sha256_of(paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


@dataclass
class Dataset:
    """Validated outcome rows (with study covariates joined) and, for the embedded data,
    the study table and the published pooled results."""

    outcomes: pd.DataFrame
    source: str
    sha256: str
    studies: pd.DataFrame | None = None
    published: pd.DataFrame | None = None
    covariates: list[str] = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return self.studies is not None

    def outcome_names(self) -> list[str]:
        return list(dict.fromkeys(self.outcomes["outcome"]))

    def select(self, outcome: str, values: str = "published") -> pd.DataFrame:
        """One row per study for ``outcome`` under a value-source policy (see VALUE_POLICIES)."""
        rows = self.outcomes[self.outcomes["outcome"] == outcome]
        if rows.empty:
            raise AnalysisError(f"outcome '{outcome}' is not in {self.source}; "
                                f"available: {', '.join(self.outcome_names())}")
        if "value_source" not in rows.columns or not self.embedded:
            return rows.reset_index(drop=True)
        if values not in VALUE_POLICIES:
            raise AnalysisError(f"unknown value policy '{values}'; choose one of {', '.join(VALUE_POLICIES)}")
        table2 = rows[rows["value_source"] == "meta_table2"]
        primary = rows[rows["value_source"] == "primary"]
        in_meta = rows["in_meta"].astype(str).str.lower() == "true"
        if values == "table2":
            chosen = table2
        elif values == "primary":
            chosen = primary
        elif values == "published":
            chosen = table2 if not table2.empty else primary[in_meta.loc[primary.index]]
        else:
            pool = rows if values == "living" else rows[in_meta]
            has_primary = set(pool.loc[pool["value_source"] == "primary", "study"])
            keep = (pool["value_source"] == "primary") | ~pool["study"].isin(has_primary)
            chosen = pool[keep]
        if chosen.empty:
            raise AnalysisError(f"no {outcome} values under the '{values}' policy "
                                f"({VALUE_POLICIES[values]})")
        return chosen.reset_index(drop=True)


def _join_studies(outcomes: pd.DataFrame, studies: pd.DataFrame, file: str) -> pd.DataFrame:
    unknown = ~outcomes["study"].isin(studies["study"])
    if unknown.any():
        index = unknown.idxmax()
        raise DataError(file, "study is not listed in studies.csv", row=index + 2,
                        study=outcomes.loc[index, "study"], column="study")
    table = studies[["study", *STUDY_COVARIATES]].copy()
    table["g3_share"] = pd.to_numeric(table["g3_share"])
    return outcomes.merge(table, on="study", how="left", validate="many_to_one")


def load_dataset(directory: str | Path | None = None) -> Dataset:
    """The embedded evidence base (or a folder with the same three CSVs)."""
    folder = Path(directory) if directory is not None else embedded_data_dir()
    paths = [folder / name for name in DATA_FILES]
    studies = read_csv_text(paths[0])
    if studies["study"].duplicated().any():
        dup = studies["study"].duplicated().idxmax()
        raise DataError(str(paths[0]), "duplicate study id", row=dup + 2, study=studies.loc[dup, "study"],
                        column="study")
    outcomes = _join_studies(read_outcomes(paths[1]), studies, str(paths[1]))
    published = pd.read_csv(paths[2], keep_default_na=False, na_values=[""])
    return Dataset(outcomes=outcomes, source="embedded dataset", sha256=sha256_of(paths),
                   studies=studies, published=published, covariates=list(STUDY_COVARIATES))


def load_csv(path: str | Path) -> Dataset:
    """A user's long-format CSV; columns beyond the data and provenance ones are covariates."""
    outcomes = read_outcomes(path)
    return Dataset(outcomes=outcomes, source=str(path), sha256=sha256_of([path]),
                   covariates=covariate_columns(outcomes))
