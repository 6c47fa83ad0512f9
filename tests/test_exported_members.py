"""The public surface: ``__all__`` lists exactly the public names, sorted, owned by the package.

"Sorted" is ruff's RUF022 order (the project lints with the RUF rules): SCREAMING_SNAKE_CASE
constants, then CamelCase classes, then everything else, each group in case-sensitive natural
order.  A plain ``sorted()`` would put ``CONNECTION_STRING_KEYS`` among the classes and so
disagree with the linter.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

import s3lite

INCLUDED_PRIVATE_MEMBERS = {"__version__"}


def isort_style_key(name: str) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """RUF022's order: constants, then classes, then the rest; natural order within each."""
    if len(name) > 1 and name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    parts = tuple(
        (1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", name) if part
    )
    return group, parts


def test_isort_style_key_orders_like_ruff() -> None:
    names = ["zeta", "__version__", "Beta", "ALPHA_2", "Alpha", "ALPHA_10", "Item10", "Item9"]
    assert sorted(names, key=isort_style_key) == [
        "ALPHA_2",
        "ALPHA_10",
        "Alpha",
        "Beta",
        "Item9",
        "Item10",
        "__version__",
        "zeta",
    ]


def submodule_names(package: ModuleType) -> set[str]:
    """Modules found in the package directory, and any submodule already imported into it
    (namespace packages such as a ``storage/`` without ``__init__.py`` are not listed by
    ``pkgutil`` but become attributes once imported)."""
    found = {info.name for info in pkgutil.iter_modules(package.__path__)}
    imported = {
        name
        for name, obj in vars(package).items()
        if isinstance(obj, ModuleType) and obj.__name__ == f"{package.__name__}.{name}"
    }
    return found | imported


def public_names(module: ModuleType) -> list[str]:
    names = {
        name for name in dir(module) if not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS
    }
    if hasattr(module, "__path__"):
        names -= submodule_names(module)
    return sorted(names)


def storage_module() -> ModuleType:
    try:
        module = importlib.import_module("s3lite.storage")
    except ModuleNotFoundError:
        pytest.skip("s3lite.storage does not exist yet")
    if not hasattr(module, "__all__"):
        pytest.skip("s3lite.storage has no __all__ yet")
    return module


def check_all_imports_are_exported(module: ModuleType) -> None:
    exported = list(module.__all__)
    assert exported == sorted(exported, key=isort_style_key), "__all__ must be sorted"
    assert len(exported) == len(set(exported)), "__all__ has duplicates"
    assert sorted(exported) == public_names(module)


def check_exported_classes_belong_to_the_package(module: ModuleType) -> None:
    wrong = {
        name: obj.__module__
        for name in module.__all__
        if inspect.isclass(obj := getattr(module, name)) and obj.__module__ != module.__name__
    }
    assert wrong == {}


def test_all_imports_are_exported() -> None:
    check_all_imports_are_exported(s3lite)


def test_exported_classes_belong_to_the_package() -> None:
    check_exported_classes_belong_to_the_package(s3lite)


def test_every_exported_name_resolves() -> None:
    for name in s3lite.__all__:
        assert getattr(s3lite, name) is not None


def test_private_modules_are_not_exported() -> None:
    assert not any(name.startswith("_") and name != "__version__" for name in s3lite.__all__)
    assert submodule_names(s3lite).isdisjoint(s3lite.__all__)


def test_version_is_a_string() -> None:
    assert isinstance(s3lite.__version__, str)
    assert s3lite.__version__.count(".") >= 1


def test_storage_all_imports_are_exported() -> None:
    check_all_imports_are_exported(storage_module())


def test_storage_exported_classes_belong_to_the_package() -> None:
    check_exported_classes_belong_to_the_package(storage_module())
