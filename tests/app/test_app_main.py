"""`python app.py`: settings from the environment, and a clear exit when the catalog cannot be served."""


def test_main_reports_a_missing_catalog_and_exits(tmp_path, monkeypatch, caplog):
    import app

    monkeypatch.setenv("LOOKALIKE_CATALOG", str(tmp_path / "nowhere.csv"))
    monkeypatch.setenv("LOOKALIKE_INDEX_DIR", str(tmp_path / "idx"))

    assert app.main() == 2
    assert "No catalog file" in caplog.text


def test_main_reports_a_bad_setting_by_name(tmp_path, monkeypatch, caplog):
    import app

    monkeypatch.setenv("LOOKALIKE_TOP_K", "0")
    monkeypatch.setenv("LOOKALIKE_INDEX_DIR", str(tmp_path / "idx"))

    assert app.main() == 2
    assert "top_k (LOOKALIKE_TOP_K) must be between 1" in caplog.text and not (tmp_path / "idx").exists()
