"""The public surface: `runflow`'s `__all__` and the few modules imported by path.

Every other module is private (its name starts with `_`); what users need from one is
re-exported by `runflow`, and plumbing stays where it is.
"""

import ast
import importlib
import inspect
import itertools
import pkgutil
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import runflow

PUBLIC_MODULES = ["runflow", "runflow.backends", "runflow.clock", "runflow.testing"]

PLUMBING = [
    "check_transition",
    "default_instrumentation",
    "dispatch_batch",
    "end_detail",
    "retrying",
    "RunLedger",
    "serialize_output",
    "status_of",
    "truncate_output",
]


def _walk() -> list[str]:
    return ["runflow"] + [info.name for info in pkgutil.walk_packages(runflow.__path__, "runflow.")]


def _is_private(module_name: str) -> bool:
    return any(part.startswith("_") for part in module_name.split("."))


def _exported(module: ModuleType) -> list[tuple[str, Any]]:
    return [(name, getattr(module, name)) for name in module.__all__]


def test_the_public_modules_are_the_chosen_few() -> None:
    assert [name for name in _walk() if not _is_private(name)] == PUBLIC_MODULES


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert runflow.__all__ == sorted(runflow.__all__)
    public = {name for name in vars(runflow) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(runflow, name), ModuleType)}
    assert set(runflow.__all__) == public - modules
    assert {f"runflow.{name}" for name in modules} <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_module_states_its_names(name: str) -> None:
    """Each public module has an `__all__` naming only what it holds, and every public name
    it defines is in it."""
    module = importlib.import_module(name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{name} has no __all__"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    defined_here = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, typing.TypeVar | typing.ParamSpec)
        and getattr(value, "__module__", None) == name
    }
    assert defined_here <= set(names), f"{name} defines unlisted names: {defined_here - set(names)}"


@pytest.mark.parametrize("name", PUBLIC_MODULES[1:])
def test_the_package_exports_the_same_objects_as_its_modules(name: str) -> None:
    """A name found both in `runflow` and in a public module is one object, and a public
    module re-exports from private modules only what `runflow` exports too."""
    module = importlib.import_module(name)
    for attr, value in _exported(module):
        if attr in runflow.__all__:
            assert getattr(runflow, attr) is value, (name, attr)
        elif _is_private(getattr(value, "__module__", "")):
            pytest.fail(f"{name}.{attr} comes from a private module but runflow lacks it")


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_name_is_documented(name: str) -> None:
    """Classes and functions carry a docstring; a type alias, which cannot, has the string
    that follows its assignment (an attribute docstring). Names of other packages are theirs."""
    module = importlib.import_module(name)
    undocumented = []
    for attr, value in _exported(module):
        home = getattr(value, "__module__", None)
        if isinstance(value, type) or inspect.isfunction(value):
            doc = value.__doc__ or ""
            documented = bool(doc.strip()) and not doc.startswith(f"{attr}(")  # a dataclass's own
            if home and not home.startswith("runflow"):
                continue
        else:
            documented = attr in _attribute_docstrings()
        if not documented:
            undocumented.append(attr)
    assert not undocumented, f"{name} exports undocumented names: {undocumented}"


def _attribute_docstrings() -> set[str]:
    """Module-level names of runflow's sources whose assignment a string literal follows."""
    names = set()
    for path in Path(runflow.__file__).parent.rglob("*.py"):
        for statement, following in itertools.pairwise(ast.parse(path.read_text()).body):
            if not (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)):
                continue
            if isinstance(statement, ast.Assign):
                names |= {t.id for t in statement.targets if isinstance(t, ast.Name)}
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                names.add(statement.target.id)
    return names


def test_plumbing_is_not_exported() -> None:
    assert not set(PLUMBING) & set(runflow.__all__)
    for name in PUBLIC_MODULES:
        assert not set(PLUMBING) & set(importlib.import_module(name).__all__), name


def _runflow_classes(hint: object, found: set[type]) -> None:
    if isinstance(hint, type) and hint.__module__.startswith("runflow"):
        found.add(hint)
    for argument in typing.get_args(hint):
        _runflow_classes(argument, found)


def _signatures(value: object) -> list[Any]:
    if inspect.isfunction(value):
        return [value]
    if not isinstance(value, type):
        return []
    members = [m for n, m in vars(value).items() if not n.startswith("_") or n == "__init__"]
    functions = [getattr(getattr(m, "fget", m), "__func__", getattr(m, "fget", m)) for m in members]
    return [f for f in functions if inspect.isfunction(f)]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_what_a_public_signature_names_is_exported(name: str) -> None:
    """Implementing `Backend` or `Instrumentation`, reading an event or a result: every runflow
    type a public class or function takes or returns can be imported from `runflow`."""
    module = importlib.import_module(name)
    exported = {id(getattr(runflow, attr)) for attr in runflow.__all__}
    unexported = set()
    for attr, value in _exported(module):
        for function in _signatures(value):
            hints = typing.get_type_hints(function, localns=vars(runflow))
            found: set[type] = set()
            for hint in hints.values():
                _runflow_classes(hint, found)
            unexported |= {
                f"{attr}: {cls.__module__}.{cls.__qualname__}"
                for cls in found
                if id(cls) not in exported and _is_private(cls.__module__)
            }
    assert not unexported, f"{name}'s signatures name types runflow does not export: {unexported}"
