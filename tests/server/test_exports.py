import runflow_server


def test_all_is_sorted_and_complete() -> None:
    exported = runflow_server.__all__
    assert exported == sorted(exported)
    public = {name for name in vars(runflow_server) if not name.startswith("_")}
    modules = {name for name in public if type(vars(runflow_server)[name]).__name__ == "module"}
    assert set(exported) == public - modules
