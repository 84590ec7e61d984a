"""Submitting a 1,000-child sweep: one Batch call, against the shell loop of `submit` a user would write.

A moto server on 127.0.0.1 stands in for S3, Batch and CloudFormation (a "deployed" stack as in the job
tests). Timed, in this process, with the clients built once as the CLI builds them:

    sweep      plan_sweep (1,000 children checked as `submit` checks a run) + submit_sweep
               (manifest, ONE SubmitJob, manifest again)
    loop       what `for lr in ...; do ocrbatch submit ...; done` sends: plan_run + submit_run per run,
               here without the 1,000 interpreter starts a real shell loop also pays

and, as whole commands in a subprocess (interpreter start, imports, stack lookup included),
`ocrbatch sweep --aws` of the same 1,000 children and one `ocrbatch submit --aws`. Batch calls are
counted with a botocore hook. moto's server starts a thread per array child inside SubmitJob, which is
server time a real Batch does not spend: the client's CPU seconds are shown beside its wall time.

Run: ``.venv/bin/python bench/sweep_submit.py [--children 1000] [--loop 100] [--repeat 3]``.
Nothing is asserted; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))  # the tests' fake deployment, tests/jobs_fakes.py (moto cannot deploy CDK)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("moto_server did not start")
            time.sleep(0.2)
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/moto-api/config", method="POST",
                                     data=json.dumps({"batch": {"use_docker": False}}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()  # no Docker here: children SUCCEED at once
    return process, endpoint


def publish_tiny_dataset(store) -> str:
    """A real (tiny) dataset version, so the CLI resolves and checks it as it would any other."""
    import tempfile

    from ocrbatch.datasets import publish_dataset
    from ocrbatch.synth import generate_dataset

    with tempfile.TemporaryDirectory() as folder:
        generate_dataset(Path(folder), count=20, seed=1, task="rec", styles=["seg7"], val_fraction=0.2)
        return publish_dataset(store, Path(folder), name="pinball").uri


def timed(action):
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def grid_of(children: int) -> list[str]:
    """A grid of exactly ``children`` learning rates x batch sizes (x dropouts past 100)."""
    rates = [f"{0.0005 * (i + 1):g}" for i in range(10)]
    sizes = [str(8 * (i + 1)) for i in range(10)]
    rest = max(1, children // 100)
    grid = [f"learning-rate={','.join(rates[: min(10, children)])}"]
    if children > 10:
        grid.append(f"batch-size={','.join(sizes[: min(10, children // 10)])}")
    if rest > 1:
        grid.append(f"dropout={','.join(f'{0.01 * i:g}' for i in range(rest))}")
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--loop", type=int, default=100, help="runs the submit loop sends (scaled to --children)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    server, endpoint = start_moto()
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2"}
    os.environ.update(env)
    os.environ.pop("AWS_PROFILE", None)
    try:
        from ocrbatch.jobs import sweeps
        from ocrbatch.jobs.submission import TrainingOptions, plan_run, submit_run
        from ocrbatch.wiring import Target, Wiring
        from tests.jobs_fakes import deploy_fake_stack

        deploy_fake_stack()
        wiring = Wiring(Target(local=False))
        backend = wiring.backend
        dataset = publish_tiny_dataset(backend.store)
        calls: list[str] = []
        round_trips: list[float] = []  # SubmitJob sent -> answered: the server's work (moto: a thread per child)
        events = backend.batch.meta.events
        events.register("before-call.batch.*", lambda model, **_: calls.append(model.name))
        events.register("before-send.batch.SubmitJob", lambda **_: round_trips.append(-time.perf_counter()))
        events.register("after-call.batch.SubmitJob", lambda **_: round_trips.append(round_trips.pop() + time.perf_counter()))
        backend.store.put_bytes("warm-up", b"")  # clients built and connected before any timing

        options = TrainingOptions(epochs=20)
        grid = sweeps.parse_grid(grid_of(args.children))
        settings = sweeps.child_settings(grid, {}, random_count=None, seed=None)
        rows = []
        for _ in range(args.repeat):
            calls.clear()
            round_trips.clear()
            plan, plan_wall, plan_cpu = timed(lambda: sweeps.plan_sweep(backend.store, dataset, options, settings))
            job, submit_wall, submit_cpu = timed(lambda: sweeps.submit_sweep(backend, plan))
            submits = calls.count("SubmitJob")
            rows.append((plan_wall, plan_cpu, submit_wall, submit_cpu, submits, sum(round_trips)))
        best = min(rows, key=lambda row: row[0] + row[2] - row[5])
        size = len(settings)

        loop_runs = min(args.loop, size)
        calls.clear()

        def loop():
            for values in settings[:loop_runs]:
                submit_run(backend, plan_run(backend.store, dataset, sweeps.options_for(options, values)))

        _, loop_wall, loop_cpu = timed(loop)
        loop_submits = calls.count("SubmitJob")
        scale = size / loop_runs

        cli_env = {**os.environ, "OCRBATCH_HOME": str(REPO / ".bench-home")}
        grid_args = [arg for item in grid_of(args.children) for arg in ("--grid", item)]
        command = [str(VENV_BIN / "ocrbatch"), "sweep", "--aws", "--dataset", dataset, "--epochs", "20", *grid_args, "--json"]
        (cli_wall, cli_cpu) = run_command(command, cli_env)
        single = [str(VENV_BIN / "ocrbatch"), "submit", "--aws", "--dataset", dataset, "--epochs", "20", "--json"]
        (one_wall, one_cpu) = run_command(single, cli_env)
    finally:
        server.terminate()
        server.wait(timeout=10)

    load = os.getloadavg()
    plan_wall, plan_cpu, submit_wall, submit_cpu, submits, server = best
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; best of {args.repeat}")
    print(f"{'':34}{'wall s':>9}{'client CPU s':>14}{'SubmitJob calls':>17}")
    print(f"{f'sweep of {size}: plan (check all)':34}{plan_wall:9.3f}{plan_cpu:14.3f}{'':>17}")
    print(f"{f'sweep of {size}: submit':34}{submit_wall:9.3f}{submit_cpu:14.3f}{submits:17d}")
    print(f"{f'sweep of {size}: plan + submit':34}{plan_wall + submit_wall:9.3f}{plan_cpu + submit_cpu:14.3f}{submits:17d}")
    print(f"{'  of which SubmitJob round trip':34}{server:9.3f}{'':14}{'':17}")
    print(f"{'  client wall (all but that wait)':34}{plan_wall + submit_wall - server:9.3f}{'':14}{'':17}")
    print(f"{f'submit loop, {loop_runs} runs':34}{loop_wall:9.3f}{loop_cpu:14.3f}{loop_submits:17d}")
    print(f"{f'submit loop, x{scale:g} = {size} runs':34}{loop_wall * scale:9.1f}{loop_cpu * scale:14.1f}{round(loop_submits * scale):17d}")
    print(f"{f'`ocrbatch sweep --aws` ({size})':34}{cli_wall:9.3f}{cli_cpu:14.3f}{1:17d}")
    print(f"{'`ocrbatch submit --aws` (one run)':34}{one_wall:9.3f}{one_cpu:14.3f}{1:17d}")
    print(f"{f'shell loop of {size} submits (est.)':34}{one_wall * size:9.0f}{one_cpu * size:14.0f}{size:17d}")
    print(f"ratio: the in-process loop takes {loop_wall * scale / (plan_wall + submit_wall):.0f}x the sweep's wall time; "
          f"a shell loop of `ocrbatch submit` about {one_wall * size / cli_wall:.0f}x the `ocrbatch sweep` command")


def run_command(command: list[str], env: dict) -> tuple[float, float]:
    before = os.times()
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = os.times()
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed: {result.stderr.strip()}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


if __name__ == "__main__":
    main()
