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


def test_later_and_subgroup_figures(dataset):
    rows = dataset.outcomes.set_index(["study", "outcome", "value_source"])
    netter1 = rows.loc[("strosberg2021", "PFS", "later")]
    assert netter1["median"] == 28.4 and pd.isna(netter1["ci_low"]) and "Kunz" in netter1["source"]
    os_ = rows.loc[("vanderzwan2018", "OS", "later")]
    assert (os_["median"], os_["ci_low"], os_["ci_high"], os_["n"]) == (80.8, 66.0, 95.6, 181)
    assert rows.loc[("vanderzwan2018", "PFS", "later"), "median"] == 19
    sub = dataset.outcomes[dataset.outcomes["value_source"] == "subgroup"].set_index("outcome")
    assert set(sub["study"]) == {"lazarenko2026"}
    assert (sub.loc["DCR", "events"], sub.loc["ORR", "events"], sub.loc["DCR", "n"]) == (10, 5, 13)
    assert (sub.loc["PFS", "median"], sub.loc["OS", "median"], sub.loc["PFS", "n"]) == (12.2, 28.2, 17)


def test_medians_without_ci_are_kept(dataset):
    rows = dataset.outcomes[dataset.outcomes["value_source"] == "primary"].set_index(["study", "outcome"])
    for key, median in {("kennedy2022", "PFS"): 43, ("kennedy2022", "OS"): 71, ("paganelli2020", "PFS"): 59.8}.items():
        assert rows.loc[key, "median"] == median and pd.isna(rows.loc[key, "ci_low"]), key


def test_no_policy_pools_a_subgroup_or_changes_published(dataset):
    for policy in ("published", "table2", "primary", "corrected", "living", "later"):
        for outcome in ("DCR", "ORR", "PFS", "OS"):
            try:
                rows = dataset.select(outcome, policy)
            except AnalysisError:
                continue
            assert "subgroup" not in set(rows["value_source"]) and not rows["study"].duplicated().any()
    assert dataset.select("PFS")["value_source"].eq("primary").all()  # 'later' rows do not enter 'published'
    later = dataset.select("OS", "later").set_index("study")
    assert later.loc["vanderzwan2018", "median"] == 80.8 and later.loc["strosberg2021", "value_source"] == "primary"


def test_arm_g3_share(dataset):
    assert dataset.select("ORR", "published").set_index("study").loc["singh2024", "g3_share"] == pytest.approx(0.35)
    assert dataset.select("ORR", "corrected").set_index("study").loc["singh2024", "g3_share"] == pytest.approx(0.34)


def test_exclusions_and_corrected_rows(dataset):
    corrected = dataset.select("DCR", "corrected").set_index("study")
    assert {"kennedy2022", "ortega2021"}.isdisjoint(corrected.index)
    assert (corrected.loc["strosberg2021", "events"], corrected.loc["strosberg2021", "n"]) == (97, 117)
    assert set(dataset.exclusions["rule"]) <= {"grim", "complementary"}
    assert dataset.denominators["source"].notna().all()
