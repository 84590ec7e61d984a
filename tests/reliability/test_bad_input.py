"""A corpus of bad input: each case ends with one clear line on stderr and the right exit code,
nothing is uploaded or submitted, and nothing outside the dataset folder is read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from ocrbatch.cli import app

from .conftest import FIGURES

runner = CliRunner()
SECRET = b"TOP-SECRET-OUTSIDE-THE-DATASET"
OUTCOMES: list[tuple[str, int]] = []


def invoke(args, home: Path, env=None):
    result = runner.invoke(app, [*args], env={"OCRBATCH_HOME": str(home), "OCRBATCH_BACKEND": "", **(env or {})})
    return result


def assert_one_line_error(result, code: int, case: str):
    assert result.exit_code == code, (case, result.exit_code, result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    OUTCOMES.append((case, code))


def nothing_uploaded(home: Path) -> bool:
    store = home / "store"
    return not any(p.is_file() for p in (store / "datasets").rglob("*")) if store.exists() else True


def good_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 16), (200, 40, 40)).save(path)


def base_dataset(folder: Path, train_lines: list[str] | None = None) -> Path:
    for name in ("a.png", "b.png", "c.png"):
        good_image(folder / "img" / name)
    lines = train_lines if train_lines is not None else ["img/a.png\t123", "img/b.png\t4,560"]
    (folder / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "val.txt").write_text("img/c.png\t789\n", encoding="utf-8")
    return folder


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(SECRET)
    return secret


@pytest.fixture
def opened_paths():
    """Every file path this process opens while the test runs (Python's audit hook)."""
    paths: list[str] = []
    active = [True]

    def hook(event, args):
        if active[0] and event == "open" and args and isinstance(args[0], (str, bytes, Path)):
            paths.append(str(args[0]))

    sys.addaudithook(hook)
    yield paths
    active[0] = False  # audit hooks cannot be removed; switch this one off


CASES = {
    "parent path": lambda d, s: ["../secret.png\t1"],
    "absolute path": lambda d, s: [f"{s}\t1"],
    "missing image": lambda d, s: ["img/nope.png\t1"],
    "no tab": lambda d, s: ["img/a.png 123"],
    "empty label": lambda d, s: ["img/a.png\t"],
    "huge line": lambda d, s: ["img/a.png\t" + "9" * 2_000_000],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_label_lines(case, tmp_path, outside, opened_paths):
    folder = base_dataset(tmp_path / "data", CASES[case](tmp_path / "data", outside))
    result = invoke(["upload", str(folder), "--local"], tmp_path / "home")
    assert_one_line_error(result, 2, case)
    assert nothing_uploaded(tmp_path / "home")
    assert str(outside) not in opened_paths


def test_symlink_out_of_the_folder(tmp_path, outside, opened_paths):
    folder = base_dataset(tmp_path / "data")
    (folder / "img" / "link.png").symlink_to(outside)
    (folder / "train.txt").write_text("img/a.png\t1\nimg/link.png\t2\n")
    result = invoke(["upload", str(folder), "--local"], tmp_path / "home")
    assert_one_line_error(result, 2, "symlink out")
    assert nothing_uploaded(tmp_path / "home")
    assert str(outside) not in opened_paths


@pytest.mark.parametrize(
    "case,payload",
    [
        ("not an image", b"hello, I am text"),
        ("truncated png", None),
        ("empty file", b""),
    ],
)
def test_undecodable_images(case, payload, tmp_path):
    folder = base_dataset(tmp_path / "data")
    target = folder / "img" / "b.png"
    data = target.read_bytes()
    target.write_bytes(payload if payload is not None else data[: len(data) // 2])
    result = invoke(["upload", str(folder), "--local"], tmp_path / "home")
    assert_one_line_error(result, 2, case)
    assert nothing_uploaded(tmp_path / "home")


def test_non_utf8_and_empty_label_files(tmp_path):
    folder = base_dataset(tmp_path / "data")
    (folder / "train.txt").write_bytes("img/a.png\t12\xe934\n".encode("latin-1"))
    assert_one_line_error(invoke(["upload", str(folder), "--local"], tmp_path / "home"), 2, "non-utf8")
    (folder / "train.txt").write_bytes(b"")
    assert_one_line_error(invoke(["upload", str(folder), "--local"], tmp_path / "home"), 2, "empty label file")
    assert nothing_uploaded(tmp_path / "home")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.text(min_size=0, max_size=60), min_size=1, max_size=6))
def test_generated_label_files_never_crash(lines, tmp_path_factory):
    """Whatever the label file holds, upload either publishes or fails with one line and exit 2."""
    root = tmp_path_factory.mktemp("gen")
    folder = base_dataset(root / "data")
    (folder / "train.txt").write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass") if all(
        "\ud800" > c or c > "\udfff" for line in lines for c in line
    ) else (folder / "train.txt").write_bytes("\n".join(lines).encode("utf-8", "replace"))
    result = invoke(["upload", str(folder), "--local", "--json"], root / "home")
    if result.exit_code == 0:
        assert '"version_id"' in result.stdout or '"uri"' in result.stdout
    else:
        assert result.exit_code == 2, (lines, result.stderr)
        assert result.stderr.strip().splitlines()[-1].startswith("error: ")
        assert nothing_uploaded(root / "home")


ARGUMENT_CASES = [
    ("submit zero epochs", ["submit", "--local", "--dataset", "x", "--epochs", "0"]),
    ("submit bad queue", ["submit", "--local", "--dataset", "x", "--queue", "tpu"]),
    ("submit bad engine", ["submit", "--local", "--dataset", "x", "--engine", "magic"]),
    ("submit bad override", ["submit", "--local", "--dataset", "x", "--set", "novalue"]),
    ("submit unknown dataset", ["submit", "--local", "--dataset", "no-such-dataset"]),
    ("submit negative lr", ["submit", "--local", "--dataset", "x", "--learning-rate", "-1"]),
    ("monitor unknown job", ["monitor", "--local", "no-such-job"]),
    ("download unknown job", ["download", "--local", "no-such-job", "--output-dir", "out"]),
    ("cancel unknown job", ["cancel", "--local", "no-such-job"]),
    ("upload missing folder", ["upload", "--local", "/no/such/folder"]),
    ("synth zero count", ["synth", "OUT", "--count", "0"]),
    ("synth unknown style", ["synth", "OUT", "--styles", "neon"]),
    ("predict missing model", ["predict", "--model", "/no/such/model", "x.png", "--local"]),
]


@pytest.mark.parametrize("case,args", ARGUMENT_CASES, ids=[c for c, _ in ARGUMENT_CASES])
def test_wrong_argument_values(case, args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(args, tmp_path / "home")
    assert result.exit_code == 2, (case, result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "home" / "jobs").glob("*")) if (tmp_path / "home" / "jobs").exists() else True
    OUTCOMES.append((case, 2))


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from ocrbatch import aws_clients

    aws_clients.session.cache_clear()
    yield
    aws_clients.session.cache_clear()


def test_no_credentials(no_aws, tmp_path):
    folder = base_dataset(tmp_path / "data")
    result = invoke(["upload", str(folder), "--aws", "--s3-bucket", "some-bucket"], tmp_path / "home")
    assert_one_line_error(result, 3, "no credentials")
    assert "credentials" in result.stderr


def test_missing_stack(tmp_path, monkeypatch):
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-west-2"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from ocrbatch import aws_clients

    aws_clients.session.cache_clear()
    with mock_aws():
        result = invoke(["submit", "--stack", "nope", "--dataset", "x"], tmp_path / "home")
    aws_clients.session.cache_clear()
    assert result.exit_code in (2, 3), result.stderr
    assert_one_line_error(result, result.exit_code, "missing stack")
    assert "cdk deploy" in result.stderr or "not found" in result.stderr


def test_report():
    FIGURES["bad-input corpus"] = {
        "cases": len(OUTCOMES),
        "exit_2": sum(1 for _, code in OUTCOMES if code == 2),
        "exit_3": sum(1 for _, code in OUTCOMES if code == 3),
    }


@pytest.mark.parametrize(
    "case,extra",
    [
        ("unknown builtin override", ["--set", "learning_rat=0.1"]),
        ("bad builtin override value", ["--set", "hidden_size=big"]),
        ("engine-owned paddleocr key", ["--engine", "paddleocr", "--set", "Global.save_model_dir=/tmp/x"]),
        ("det model for a rec task", ["--engine", "paddleocr", "--model", "PP-OCRv5_mobile_det"]),
    ],
)
def test_submit_refuses_what_the_trainer_would_refuse(case, extra, tmp_path):
    """A typo costs a one-line error at submit, not a GPU job that starts and then fails."""
    home = tmp_path / "home"
    folder = base_dataset(tmp_path / "data")
    assert invoke(["upload", str(folder), "--local", "--name", "good"], home).exit_code == 0
    result = invoke(["submit", "--local", "--dataset", "good", *extra], home)
    assert_one_line_error(result, 2, case)
    assert not (home / "jobs").exists() or not any((home / "jobs").iterdir())
