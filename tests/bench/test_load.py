"""bench.load sends a crowd to a running app and reports what was served, how fast."""

import json

import pytest

from bench.load import main
from support import APP_PHOTO

pytestmark = pytest.mark.slow  # the served app over real weights


def test_load_reports_served_refused_latency_and_throughput(served_app, tmp_path, capsys):
    out = tmp_path / "load.json"
    assert (
        main(["--url", served_app, "--photos", str(APP_PHOTO), "--clients", "3", "--searches", "2", "--out", str(out)])
        == 0
    )
    figures = json.loads(out.read_text())
    assert figures == json.loads(capsys.readouterr().out)
    assert figures["alone"]["served"] == 2 and figures["crowd"]["searches"] == 6
    assert figures["crowd"]["served"] + figures["crowd"]["refused"] == 6 and not figures["crowd"]["failed"]
    assert 0 < figures["crowd"]["p50_s"] <= figures["crowd"]["p95_s"] <= figures["crowd"]["max_s"]
    assert figures["throughput_ratio"] > 0


def test_load_needs_an_app_or_what_to_start_one_with(capsys):
    with pytest.raises(SystemExit):
        main(["--photos", str(APP_PHOTO)])
    assert "give --url" in capsys.readouterr().err
