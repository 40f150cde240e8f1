import runflow


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert runflow.__all__ == sorted(runflow.__all__)
    public = {name for name in vars(runflow) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(runflow, name)).__name__ == "module"}
    assert set(runflow.__all__) == public - modules
