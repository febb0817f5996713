"""bench.storage: an index written as a build writes it, at a size, then loaded, sized and timed."""

import json

from bench.storage import main


def test_each_size_is_written_loaded_and_sized(tmp_path, capsys):
    out = tmp_path / "storage.json"
    assert (
        main(["--sizes", "40,120", "--thumbnails", "files", "--work", str(tmp_path / "work"), "--out", str(out)]) == 0
    )
    results = json.loads(out.read_text())["results"]
    assert [r["size"] for r in results] == [40, 120]
    for r in results:
        assert r["disk"]["vectors"] >= r["size"] * 512 * 4 and r["disk"]["thumbnails"] > r["size"] * 5000
        assert r["disk_bytes"] == sum(r["disk"].values()) and r["load_s"] >= 0 and r["first_search_ms"] > 0
        assert r["backend"] == "faiss-flat-ip"
    assert "120 products, thumbnails as files" in capsys.readouterr().out
    assert not list((tmp_path / "work").iterdir())  # each index is removed once measured


def test_links_write_no_thumbnail(tmp_path):
    out = tmp_path / "storage.json"
    assert main(["--sizes", "30", "--thumbnails", "links", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["results"][0]["disk"]["thumbnails"] == 0
