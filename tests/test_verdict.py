"""Verdict wording: which way a probability statement goes across priors and data scenarios."""

from bayes_prrt.sensitivity.verdict import wording

PRIORS = ("tau ~ halfnormal:0.25", "tau ~ halfnormal:0.5", "tau ~ halfcauchy:1")
SCENARIOS = ("published", "corrected", "strict")


def _probs(labels, values):
    return dict(zip(labels, values, strict=True))


def test_supported_everywhere():
    text = wording(_probs(PRIORS, (0.99, 0.97, 0.951)), _probs(SCENARIOS, (0.98, 0.99, 0.96)))
    assert text == "supported (P \u2265 0.95 under every prior and scenario)"


def test_uncertain_everywhere():
    text = wording(_probs(PRIORS, (0.5, 0.2, 0.94)), _probs(SCENARIOS, (0.06, 0.5, 0.7)))
    assert text == "uncertain (0.05 < P < 0.95 under every prior and scenario)"


def test_not_supported_everywhere_and_without_scenarios():
    assert wording(_probs(PRIORS, (0.01, 0.0, 0.05)), {}) == "not supported (P \u2264 0.05 under every prior)"


def test_depends_on_the_prior_names_the_prior_and_the_range():
    text = wording(_probs(PRIORS, (0.047, 0.061, 0.067)), _probs(SCENARIOS, (0.06, 0.07, 0.08)))
    assert text == "depends on the prior: P = 0.047 - 0.067, below 0.05 only under tau ~ halfnormal:0.25"


def test_depends_on_the_data_scenario():
    text = wording(_probs(PRIORS, (0.97, 0.98, 0.99)), _probs(SCENARIOS, (0.98, 0.97, 0.40)))
    assert text == "depends on the data scenario: P = 0.400 - 0.980, between 0.05 and 0.95 only under strict"


def test_depends_on_both_and_a_large_minority_is_counted():
    priors = {f"tau ~ p{i}": p for i, p in enumerate((0.5, 0.6, 0.97, 0.98, 0.99, 0.96, 0.97, 0.2, 0.3))}
    text = wording(priors, _probs(SCENARIOS, (0.97, 0.01, 0.96)))
    assert text == ("depends on the prior: P = 0.200 - 0.990, between 0.05 and 0.95 only under 4 of 9 priors; "
                    "depends on the data scenario: P = 0.010 - 0.970, below 0.05 only under corrected")


def test_each_dimension_agrees_but_they_disagree():
    text = wording(_probs(PRIORS, (0.97, 0.98, 0.99)), _probs(SCENARIOS, (0.5, 0.6, 0.7)))
    assert text == ("depends on the data scenario: P above 0.95 under every prior, "
                    "between 0.05 and 0.95 under every scenario")


def test_custom_thresholds_and_nothing_run():
    assert wording(_probs(PRIORS, (0.91, 0.92, 0.95)), {}, (0.1, 0.9)) == "supported (P \u2265 0.9 under every prior)"
    assert wording({}, {}) == "not assessed (no sensitivity analysis)"
