import pytest

from tests.support.paths import FIXTURES_DIR


@pytest.fixture(scope="session")
def fixtures_dir():
    """Real output of the original tools, kept in the repository (tests/fixtures/README.md)."""
    return FIXTURES_DIR
