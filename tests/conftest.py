import pytest

from tests.support.paths import FIXTURES_DIR


@pytest.fixture(scope="session")
def fixtures_dir():
    """../shared/fixtures, which CI provides beside the checkout; a bare clone skips these tests."""
    if not FIXTURES_DIR.is_dir():
        pytest.skip(
            f"{FIXTURES_DIR} is not present (tests of the original tools' output need ../shared)"
        )
    return FIXTURES_DIR
