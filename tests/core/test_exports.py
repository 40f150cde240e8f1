from typing import ParamSpec, TypeVar

import pytest

import runflow


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert runflow.__all__ == sorted(runflow.__all__)
    public = {name for name in vars(runflow) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(runflow, name)).__name__ == "module"}
    assert set(runflow.__all__) == public - modules


def _public_modules() -> list[str]:
    import pkgutil

    found = ["runflow"]
    for info in pkgutil.walk_packages(runflow.__path__, prefix="runflow."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append(info.name)
    return found


@pytest.mark.parametrize("name", _public_modules())
def test_every_public_module_states_its_names(name: str) -> None:
    """Each public module has an `__all__` naming only what it defines or re-exports,
    and every public name it holds that is not a module or an import is in it."""
    import importlib

    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{name} has no __all__"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    defined_here = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, TypeVar | ParamSpec)
        and getattr(value, "__module__", None) == name
    }
    assert defined_here <= set(names), f"{name} defines unlisted names: {defined_here - set(names)}"


def test_the_package_exports_the_same_objects_as_its_modules() -> None:
    import importlib

    for name in _public_modules()[1:]:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", ()):
            if attr in runflow.__all__:
                assert getattr(runflow, attr) is getattr(module, attr), (name, attr)
