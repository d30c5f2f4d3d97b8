"""The evidence base: the embedded PRRT dataset or a user's CSV, with value-source policies.

``load_dataset()`` returns the curated data of ``data/`` (15 studies: the 14 of Wang et
al. 2026 plus the Lazarenko 2026 cohort); ``load_csv(path)`` a user's file in any accepted
format (long or wide, CSV or .xlsx; see :mod:`.formats`).
``Dataset.select(outcome, values=...)`` gives one row per study for one analysis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import AnalysisError, DataError
from ..resources import embedded_data_dir
from .formats import Table, csv_errors, read_grid, read_table
from .loader import covariate_columns, read_outcomes, validate_outcomes
from .within import read_within

DATA_FILES = ("studies.csv", "outcomes.csv", "published_pooled.csv")
# read when present: the audit's candidate denominators, and the corrected policy's exclusions
OPTIONAL_FILES = ("denominators.csv", "exclusions.csv")
WITHIN_FILE = "within_study.csv"  # read when present: within-study subgroup figures (``within.py``)
OPTIONAL_COLUMNS = {"denominators.csv": ("study", "group", "n", "role", "partition", "part_of", "source"),
                    "exclusions.csv": ("study", "outcome", "value_source", "rule", "reason", "source")}

# how to choose one row per study when a study has several value sources
VALUE_POLICIES = {
    "published": "Wang 2026 Table 2 figures where the outcome has any; otherwise the primary "
                 "figures of the studies in the meta-analysis",
    "table2": "only Wang 2026 Table 2 figures",
    "primary": "only the primary studies' own figures (all studies)",
    "corrected": "studies in the meta-analysis; per study the audit's corrected figure, else the primary "
                 "figure, else Table 2, leaving out the figures exclusions.csv names; the 177Lu arm's G3 share",
    "living": "as 'corrected', plus studies published after the meta-analysis",
    "later": "as 'corrected', with figures from later publications (value source 'later') first",
}
# value sources each policy takes, best first, one per study (the others are fixed above)
POLICY_ORDER = {
    "corrected": ("corrected", "primary", "meta_table2"),
    "living": ("corrected", "primary", "meta_table2"),
    "later": ("later", "corrected", "primary", "meta_table2"),
}
STUDY_COVARIATES = ("label", "grade", "g3_share", "site", "setting", "drug", "design", "timing",
                    "response_criteria", "risk_of_bias", "country", "in_meta")
# value_source in a data folder's outcomes.csv: Wang 2026 Table 2; the primary study; a figure the audit
# corrected (its note names the rule); a later publication on the same patients; a subgroup of the study
# (never chosen by a policy: it is not the study's whole cohort)
VALUE_SOURCES = ("meta_table2", "primary", "corrected", "later", "subgroup")
STUDY_SHARES = ("g3_share", "g3_share_arm")  # g3_share_arm: the analysed arm's share, where it differs


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
    denominators: pd.DataFrame | None = None
    exclusions: pd.DataFrame | None = None
    within: pd.DataFrame | None = None  # within-study subgroup figures (``within.py``), embedded data only

    @property
    def embedded(self) -> bool:
        return self.studies is not None

    def outcome_names(self) -> list[str]:
        return list(dict.fromkeys(self.outcomes["outcome"]))

    def excluded(self, rows: pd.DataFrame) -> pd.Series:
        """True for the rows exclusions.csv names (study x outcome x value source)."""
        if self.exclusions is None or rows.empty:
            return pd.Series(False, index=rows.index)
        key = ["study", "outcome", "value_source"]
        names = set(map(tuple, self.exclusions[key].to_numpy()))
        return pd.Series([tuple(k) in names for k in rows[key].to_numpy()], index=rows.index)

    def _best_per_study(self, rows: pd.DataFrame, order: tuple[str, ...]) -> pd.DataFrame:
        """Per study the row of the first value source in ``order``, exclusions left out; G3 share of the arm."""
        rows = rows[rows["value_source"].isin(order) & ~self.excluded(rows)]
        rank = rows["value_source"].map({s: i for i, s in enumerate(order)})
        chosen = rows.loc[rank.sort_values(kind="stable").index].drop_duplicates("study").sort_index()
        if "g3_share_arm" in chosen.columns:
            chosen = chosen.assign(g3_share=chosen["g3_share_arm"].fillna(chosen["g3_share"]))
        return chosen

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
        source = rows["value_source"]  # masks first: each policy filters the wide frame once

        def in_meta():
            return rows["in_meta"].astype(str).str.lower() == "true"

        if values == "table2":
            chosen = rows[source == "meta_table2"]
        elif values == "primary":
            chosen = rows[source == "primary"]
        elif values == "published":
            table2 = source == "meta_table2"
            chosen = rows[table2] if table2.any() else rows[(source == "primary") & in_meta()]
        else:
            chosen = self._best_per_study(rows if values == "living" else rows[in_meta()], POLICY_ORDER[values])
        if chosen.empty:
            raise AnalysisError(f"no {outcome} values under the '{values}' policy "
                                f"({VALUE_POLICIES[values]})")
        return chosen.reset_index(drop=True)


def _first_bad(mask: pd.Series):
    return mask.idxmax() if mask.any() else None


def read_studies(path: Path) -> pd.DataFrame:
    """The study table of a data folder, checked: ids, the covariates, g3_share and in_meta."""
    table = read_grid(path)
    studies = table.frame
    for col in ("study", *STUDY_COVARIATES):
        if col not in studies.columns:
            raise DataError(table.file, f"missing column; the study table needs study, "
                                        f"{', '.join(STUDY_COVARIATES)}", column=col)
    if studies.empty:
        raise DataError(table.file, "the file has a header but no data rows")
    if (i := _first_bad(studies["study"].isna())) is not None:
        raise table.error("the study id is empty", i, "study")
    if (i := _first_bad(studies["study"].duplicated())) is not None:
        raise table.error("duplicate study id", i, "study")
    for col in (c for c in STUDY_SHARES if c in studies.columns):
        share = pd.to_numeric(studies[col], errors="coerce")
        if (i := _first_bad(studies[col].notna() & ~share.between(0, 1))) is not None:
            raise table.error(f"{col} must be a share from 0 to 1, or empty", i, col)
    in_meta = studies["in_meta"].str.lower()
    if (i := _first_bad(~in_meta.isin(["true", "false"]))) is not None:
        raise table.error("in_meta must be true or false", i, "in_meta")
    return studies.assign(in_meta=in_meta)


def _check_folder_outcomes(outcomes: pd.DataFrame, table: Table) -> None:
    """What the value-source policies and the study join need from a data folder's outcomes.csv."""
    if "value_source" not in outcomes.columns:
        raise DataError(table.file, f"missing column; a data folder's outcomes need value_source "
                                    f"({' or '.join(VALUE_SOURCES)})", column="value_source")
    if (i := _first_bad(~outcomes["value_source"].isin(VALUE_SOURCES))) is not None:
        raise table.error(f"value_source must be one of {', '.join(VALUE_SOURCES)}", i, "value_source")
    for col in STUDY_COVARIATES:
        if col in outcomes.columns:
            raise DataError(table.file, "this is a study covariate; give it in studies.csv, not here", row=1,
                            column=col)


def _join_studies(table: Table, studies: pd.DataFrame) -> pd.DataFrame:
    outcomes = validate_outcomes(table)
    _check_folder_outcomes(outcomes, table)
    unknown = ~outcomes["study"].isin(studies["study"])
    if unknown.any():
        raise table.error("study is not listed in studies.csv", unknown.idxmax(), "study")
    extra = [c for c in STUDY_SHARES if c in studies.columns and c not in STUDY_COVARIATES]
    covariates = studies[["study", *STUDY_COVARIATES, *extra]].copy()
    for col in (c for c in STUDY_SHARES if c in covariates.columns):
        covariates[col] = pd.to_numeric(covariates[col])
    return outcomes.merge(covariates, on="study", how="left", validate="many_to_one")


def load_dataset(directory: str | Path | None = None) -> Dataset:
    """The embedded evidence base (or a folder with the same three CSVs)."""
    folder = Path(directory) if directory is not None else embedded_data_dir()
    paths = [folder / name for name in DATA_FILES]
    studies = read_studies(paths[0])
    outcomes = _join_studies(read_table(paths[1]), studies)
    published = _read_table(paths[2])
    optional = [folder / name for name in OPTIONAL_FILES if (folder / name).is_file()]
    tables = {path.name: _read_table(path, OPTIONAL_COLUMNS[path.name]) for path in optional}
    within = None
    if (folder / WITHIN_FILE).is_file():
        optional.append(folder / WITHIN_FILE)
        within = read_within(folder / WITHIN_FILE, studies["study"],
                             outcomes.loc[outcomes["kind"] == "median", "outcome"])
    return Dataset(outcomes=outcomes, source="embedded dataset", sha256=sha256_of(paths + optional),
                   studies=studies, published=published, covariates=list(STUDY_COVARIATES),
                   denominators=tables.get("denominators.csv"), exclusions=tables.get("exclusions.csv"),
                   within=within)


def _read_table(path: Path, needed: tuple[str, ...] = ()) -> pd.DataFrame:
    with csv_errors(path):
        table = pd.read_csv(path, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    for col in needed:
        if col not in table.columns:
            raise DataError(str(path), f"missing column; the table needs {', '.join(needed)}", column=col)
    if "n" in needed:
        n = pd.to_numeric(table["n"], errors="coerce")
        if (i := _first_bad(~(n > 0) | (n % 1 != 0))) is not None:
            raise DataError(str(path), "n must be a whole number of patients greater than 0", row=i + 2,
                            study=str(table.loc[i, "study"]), column="n")
        table["n"] = n.astype(int)
    return table


def load_csv(path: str | Path) -> Dataset:
    """A user's outcome file (long or wide, CSV or .xlsx); columns beyond the data and provenance
    ones are covariates."""
    outcomes = read_outcomes(path)
    return Dataset(outcomes=outcomes, source=str(path), sha256=sha256_of([path]),
                   covariates=covariate_columns(outcomes))
