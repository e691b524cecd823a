"""`tier-router calibrate` answers user mistakes with a clear message and exit code, never a traceback
(the length strategy: no encoder, so these run in milliseconds)."""

import json
import shutil
from pathlib import Path

import pytest

from serve_app import cli

ROOT = Path(__file__).resolve().parents[2]
LENGTH = json.dumps({"name": "length"})


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    rows = [{"prompt": "word " * n, "scores": {"weak": 0.0, "strong": 1.0}} for n in range(1, 11)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_share_outside_zero_to_one_is_a_usage_error(prompts, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["calibrate", str(prompts), "--share", "30", "--strategy", LENGTH])
    assert exit_.value.code == 2 and "between 0 and 1" in capsys.readouterr().err


def test_unknown_app_names_the_apps_the_config_has(prompts, tmp_path):
    config = tmp_path / "cpu.yaml"
    shutil.copy(ROOT / "deployments" / "cpu.yaml", config)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["calibrate", str(prompts), "--share", "0.3", "--config", str(config), "--app", "nope"])
    assert "no tier-router application 'nope'" in str(exit_.value) and "tier-router" in str(exit_.value)


@pytest.mark.parametrize(
    ("labels", "says"), [("weak", "WEAK_MODEL,STRONG_MODEL"), ("weak,gpt-9", "'gpt-9'"), ("weak,,", "got")]
)
def test_bad_labels_are_named(prompts, labels, says):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["calibrate", str(prompts), "--share", "0.3", "--strategy", LENGTH, "--labels", labels])
    assert says in str(exit_.value)


def test_a_missing_artifact_is_exit_2_naming_the_file(prompts, tmp_path, capsys):
    strategy = json.dumps({"name": "knn", "artifact": str(tmp_path / "gone.npz")})
    assert cli.main(["calibrate", str(prompts), "--share", "0.3", "--strategy", strategy]) == 2
    assert "gone.npz" in capsys.readouterr().err


def test_good_labels_still_report_the_cascade(prompts, capsys):
    assert cli.main(["calibrate", str(prompts), "--share", "0.3", "--strategy", LENGTH, "--labels", "weak,strong"]) == 0
    assert json.loads(capsys.readouterr().out)["cascade"]["routed_large"] == pytest.approx(0.3)
