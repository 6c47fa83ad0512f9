"""Each package's ``__all__`` is exactly its public names, sorted, and its classes are its own.

Sorted as ruff's RUF022 sorts these names: constants first (``S3``), then by code point.
"""

from types import ModuleType

import pytest

import s3lite
import s3lite.storage


def ruf022_key(name: str) -> tuple[bool, str]:
    return not (len(name) > 1 and name.isupper()), name


@pytest.mark.parametrize("package", [s3lite, s3lite.storage], ids=lambda p: p.__name__)
def test_all_lists_the_public_names_sorted(package: ModuleType) -> None:
    public = {
        name
        for name, value in vars(package).items()
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, ModuleType)
    }
    assert package.__all__ == sorted(public, key=ruf022_key)
    members = [getattr(package, name) for name in package.__all__]
    assert {m.__module__ for m in members if isinstance(m, type)} == {package.__name__}
