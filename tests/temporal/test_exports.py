"""runflow_temporal's public names: sorted, all importable, nothing private."""

import runflow_temporal


def test_all_is_sorted_and_importable() -> None:
    names = runflow_temporal.__all__
    assert names == sorted(names)
    assert all(hasattr(runflow_temporal, name) for name in names)
    public = {name for name in vars(runflow_temporal) if not name.startswith("_")}
    modules = {"activities", "cli", "runner", "worker", "workflow"}
    assert public - modules == set(names)
