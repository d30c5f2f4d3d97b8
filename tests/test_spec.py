"""Analysis specs: the shipped default parses; bad specs name file and key."""

import pytest
from click.testing import CliRunner

from bayes_prrt.cli import main
from bayes_prrt.analysis.spec import SpecError, read_spec


def test_default_spec():
    spec = read_spec()
    assert spec.outcomes == ["DCR", "ORR", "PFS", "OS"]
    assert spec.tau2 == "DL" and spec.measure_binary == "PFT" and spec.values == "published"
    from bayes_prrt.priors import default_priors
    assert spec.priors == {kind: default_priors(kind) for kind in ("binary", "median")}  # one source of defaults


@pytest.mark.parametrize("text,key", [
    ('[analysis]\noutcomes = []\n', "analysis.outcomes"),
    ('[analysis]\noutcomes = ["DCR"]\nvalues = "best"\n', "analysis.values"),
    ('[analysis]\noutcomes = ["DCR"]\n[frequentist]\ntau2 = "XX"\n', "frequentist.tau2"),
    ('[analysis]\noutcomes = ["DCR"]\ncolour = 1\n', "analysis.colour"),
    ('[analysys]\n', "analysys"),
    ('[analysis\n', "-"),
    ('[analysis]\noutcomes = ["DCR"]\n[priors.binary]\ntau = "normal:0,1"\n', "priors.binary.tau"),
    ('[analysis]\noutcomes = ["DCR"]\n[priors]\ntau = "halfnormal:1"\n', "priors.tau"),
])
def test_bad_spec(text, key, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        read_spec(path)
    assert f"key '{key}'" in str(info.value) and str(path) in str(info.value)


def test_run_with_outcome_missing_from_data(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[analysis]\noutcomes = ["QOL"]\n')
    (tmp_path / "out").mkdir()  # an existing destination too: the spec error must come first
    result = CliRunner().invoke(main, ["run", "--spec", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "outcome 'QOL' is not in" in result.output
