import pytest

import bayes_prrt


@pytest.fixture(scope="session")
def dataset():
    return bayes_prrt.load_dataset()


@pytest.fixture
def write_csv(tmp_path):
    """Write CSV text to a file and return its path."""

    def write(text: str, name: str = "input.csv"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
