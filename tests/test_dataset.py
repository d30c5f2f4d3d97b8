"""The embedded evidence base: provenance, integrity and value-source policies."""

import math

import pandas as pd
import pytest

from bayes_prrt import AnalysisError
from bayes_prrt.data.dataset import embedded_data_dir


def test_every_row_has_a_source(dataset):
    for frame in (dataset.studies, dataset.outcomes, dataset.published):
        assert frame["source"].notna().all()
        assert (frame["source"].astype(str).str.len() > 5).all()


def test_table2_totals_match_the_paper(dataset):
    table2 = dataset.outcomes[dataset.outcomes["value_source"] == "meta_table2"]
    dcr = table2[table2["outcome"] == "DCR"]
    assert len(dcr) == 12 and dcr["n"].sum() == 1710  # Wang 2026 Table 2
    in_meta = dataset.studies[dataset.studies["in_meta"] == "true"]
    assert len(in_meta) == 14 and pd.to_numeric(in_meta["n_meta"]).sum() == 1844  # Abstract


def test_derived_events_follow_the_stated_rule(dataset):
    derived = dataset.outcomes[dataset.outcomes["events_derived"] == "true"]
    assert len(derived) > 0
    for r in derived.itertuples():
        assert r.events == math.floor(float(r.reported) * r.n + 0.5), r.study
        assert "round" in r.note


def test_events_are_integers(dataset):
    assert str(dataset.outcomes["events"].dtype) == "Int64"


def test_lazarenko_is_the_living_update(dataset):
    row = dataset.studies.set_index("study").loc["lazarenko2026"]
    assert row["in_meta"] == "false"
    assert "lazarenko2026" not in set(dataset.select("DCR", "corrected")["study"])
    assert "lazarenko2026" in set(dataset.select("DCR", "living")["study"])


def test_both_sources_kept_where_they_disagree(dataset):
    rows = dataset.outcomes.set_index(["study", "outcome", "value_source"])
    assert rows.loc[("mitjavila2022", "DCR", "meta_table2"), "n"] == 417
    assert rows.loc[("mitjavila2022", "DCR", "primary"), "n"] == 522
    assert rows.loc[("vanderzwan2018", "DCR", "primary"), "n"] == 168
    assert rows.loc[("minczeles2022", "DCR", "primary"), "n"] == 130


def test_policies(dataset):
    assert dataset.select("DCR", "table2")["value_source"].eq("meta_table2").all()
    corrected = dataset.select("DCR", "corrected").set_index("study")
    assert corrected.loc["mitjavila2022", "n"] == 522 and corrected.loc["braat2020", "n"] == 30
    published_pfs = dataset.select("PFS")  # no Table 2 PFS: primary figures of the meta's studies
    assert published_pfs["value_source"].eq("primary").all()
    assert "lazarenko2026" not in set(published_pfs["study"])
    with pytest.raises(AnalysisError, match="no PFS values"):
        dataset.select("PFS", "table2")
    with pytest.raises(AnalysisError, match="unknown value policy"):
        dataset.select("DCR", "nope")
    with pytest.raises(AnalysisError, match="not in"):
        dataset.select("QOL")


def test_covariates_joined(dataset):
    rows = dataset.select("ORR").set_index("study")
    assert rows.loc["strosberg2021", "site"] == "midgut"
    assert rows.loc["singh2024", "g3_share"] == pytest.approx(0.35)


def test_embedded_dir_has_the_files():
    names = {p.name for p in embedded_data_dir().iterdir()}
    assert {"studies.csv", "outcomes.csv", "published_pooled.csv"} <= names
