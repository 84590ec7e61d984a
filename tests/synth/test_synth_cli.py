"""`ocrbatch synth` through Typer's CliRunner: JSON on stdout only, one-line errors, exit codes."""

import json

import pytest
from typer.testing import CliRunner

from ocrbatch.cli import app

runner = CliRunner()


def test_json_summary_is_the_only_stdout(tmp_path):
    out = tmp_path / "ds"
    result = runner.invoke(app, ["synth", str(out), "--count", "12", "--seed", "5", "--styles", "seg7,dmd", "--val-fraction", "0.25", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["count"] == 12 and summary["seed"] == 5 and summary["task"] == "rec"
    assert summary["splits"] == {"train": 9, "val": 3}
    assert set(summary["per_style"]) == {"seg7", "dmd"}
    assert {"characters", "seconds", "images_per_second", "workers", "out_dir", "label_files"} <= set(summary)
    assert "generating 12/12" in result.stderr
    assert len((out / "train.txt").read_text().splitlines()) == 9


def test_human_output_and_det_task(tmp_path):
    result = runner.invoke(app, ["synth", str(tmp_path / "det"), "-n", "4", "--task", "det", "--styles", "scores"])
    assert result.exit_code == 0, result.output
    assert "wrote 4 det images" in result.stdout
    line = (tmp_path / "det" / "train.txt").read_text().splitlines()[0]
    assert json.loads(line.split("\t")[1])[0]["points"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--count", "0"], "count must be a positive integer"),
        (["--styles", "seg7,neon"], "unknown style 'neon'"),
        (["--task", "cls"], "task must be one of"),
        (["--val-fraction", "1.5"], "val_fraction"),
        (["--workers", "0"], "workers"),
    ],
)
def test_bad_values_exit_2_with_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["synth", str(tmp_path / "x"), *args, "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr


def test_non_empty_foreign_folder_needs_force(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    result = runner.invoke(app, ["synth", str(tmp_path), "-n", "2"])
    assert result.exit_code == 2 and "--force" in result.stderr
    result = runner.invoke(app, ["synth", str(tmp_path), "-n", "2", "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "keep.txt").exists() and (tmp_path / "train.txt").exists()


def test_out_dir_that_is_a_file_is_bad_input(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = runner.invoke(app, ["synth", str(target), "-n", "2"])
    assert result.exit_code == 2 and "not a folder" in result.stderr
