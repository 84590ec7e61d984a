"""What a sweep asks for, before anything is sent: grid and random children, and bad grids refused
in one line with exit 2 and nothing written or submitted."""

import json

import pytest

from ocrbatch.cli import app
from ocrbatch.errors import BadInput
from ocrbatch.jobs import sweeps
from ocrbatch.jobs.submission import TrainingOptions
from ocrbatch.storage import LocalStore
from ocrbatch.trainer.spec import TrainingSpec, sweep_child
from tests.cli_runner import runner


def test_a_grid_is_every_combination_with_typed_values():
    grid = sweeps.parse_grid(["learning-rate=0.001,0.003", "batch_size=16,32,64", "channels=[8,16],[16,32]"])
    assert grid == {"learning-rate": [0.001, 0.003], "batch-size": [16, 32, 64], "channels": ["[8,16]", "[16,32]"]}
    children = sweeps.child_settings(grid, {}, random_count=None, seed=None)
    assert len(children) == 12
    assert children[0] == {"learning-rate": 0.001, "batch-size": 16, "channels": "[8,16]"}
    assert len({json.dumps(c, sort_keys=True) for c in children}) == 12


def test_random_draws_are_seeded_within_their_bounds_and_log_uniform_when_asked():
    ranges = sweeps.parse_ranges(["learning-rate=1e-4:1e-1:log", "batch-size=16:128"])
    grid = sweeps.parse_grid(["model=PP-OCRv5_mobile_rec,PP-OCRv5_server_rec"])
    first = sweeps.child_settings(grid, ranges, random_count=400, seed=7)
    assert first == sweeps.child_settings(grid, ranges, random_count=400, seed=7)
    assert first != sweeps.child_settings(grid, ranges, random_count=400, seed=8)
    rates = [c["learning-rate"] for c in first]
    assert all(1e-4 <= r <= 1e-1 for r in rates)
    # log-uniform: about a third of the draws in each decade
    assert 80 < sum(r < 1e-3 for r in rates) < 190
    assert all(isinstance(c["batch-size"], int) and 16 <= c["batch-size"] <= 128 for c in first)
    assert {c["model"] for c in first} == {"PP-OCRv5_mobile_rec", "PP-OCRv5_server_rec"}


@pytest.mark.parametrize(
    "items, message",
    [
        (["learning-rate="], "every value must be given"),
        (["learning-rate=0.1,,0.2"], "every value must be given"),
        (["epochs=1,two"], "'two' is not an integer"),
        (["from-scratch=yes"], "is not a true/false"),
        (["queue=gpu,cpu"], "same for every child"),
        (["gpus=1,2"], "same for every child"),
        (["epochs=1,2", "epochs=3"], "names epochs twice"),
        (["epochs"], "must look like KEY=V1,V2"),
        (["bad key=1"], "is not a sweep key"),
    ],
)
def test_bad_grids_are_refused(items, message):
    with pytest.raises(BadInput, match=message):
        sweeps.parse_grid(items)


def test_too_many_children_are_refused_before_any_is_made():
    grid = {"a.x": list(range(101)), "a.y": list(range(100))}  # 10,100
    with pytest.raises(BadInput, match="10,100 children; a sweep has at most 10,000"):
        sweeps.child_settings(grid, {}, random_count=None, seed=None)
    with pytest.raises(BadInput, match="10,001 children"):
        sweeps.child_settings({}, sweeps.parse_ranges(["learning-rate=0.001:0.1"]), random_count=10_001, seed=1)
    assert len(sweeps.child_settings({}, sweeps.parse_ranges(["learning-rate=0.001:0.1"]), random_count=10_000, seed=1)) == 10_000


def test_every_child_is_checked_as_submit_checks_a_run(tmp_path):
    store = LocalStore(tmp_path / "store")
    dataset = store.uri("datasets/scores/versions/v1")
    settings = sweeps.child_settings(sweeps.parse_grid(["learning-rate=0.01,20"]), {}, random_count=None, seed=None)
    with pytest.raises(BadInput, match=r"sweep child 1 \(learning-rate=20.0\): learning_rate must be in \(0, 10\)"):
        sweeps.plan_sweep(store, dataset, TrainingOptions(), settings)
    unknown = sweeps.child_settings(sweeps.parse_grid(["dropoutt=0,0.1"]), {}, random_count=None, seed=None)
    with pytest.raises(BadInput, match="does not know override 'dropoutt'"):
        sweeps.plan_sweep(store, dataset, TrainingOptions(), unknown)
    with pytest.raises(BadInput, match="--queue must be gpu or cpu"):
        sweeps.plan_sweep(store, dataset, TrainingOptions(queue="tpu"), settings[:1])


def test_each_child_finds_its_own_changes_in_the_manifest_by_its_index(tmp_path):
    store = LocalStore(tmp_path / "store")
    settings = sweeps.child_settings(
        sweeps.parse_grid(["learning-rate=0.001,0.01", "dropout=0,0.2"]), {}, random_count=None, seed=None
    )
    options = TrainingOptions(epochs=3, overrides={"hidden_size": "32"})
    plan = sweeps.plan_sweep(store, store.uri("datasets/scores/versions/v1"), options, settings)
    manifest = plan.manifest(backend="local")
    environ = plan.base.to_env()
    assert environ["OCRBATCH_SWEEP"] == plan.manifest_uri and environ["OCRBATCH_OUTPUT"] == plan.sweep_uri
    base = TrainingSpec.from_env(environ)
    for index in range(4):
        child = sweep_child(base, {**environ, "AWS_BATCH_JOB_ARRAY_INDEX": str(index)}, lambda uri: manifest)
        assert child == plan.children[index].spec
        assert child.output == plan.sweep_uri.rstrip("/") + f"-{index}/"
        assert child.epochs == 3 and child.overrides["hidden_size"] == "32"
    assert sweep_child(base, {**environ, "AWS_BATCH_JOB_ARRAY_INDEX": "3"}, lambda uri: manifest).learning_rate == 0.01
    assert sweep_child(base, {**environ, "AWS_BATCH_JOB_ARRAY_INDEX": "3"}, lambda uri: manifest).overrides["dropout"] == "0.2"
    with pytest.raises(BadInput, match="names no child"):
        sweep_child(base, {**environ, "AWS_BATCH_JOB_ARRAY_INDEX": "4"}, lambda uri: manifest)
    with pytest.raises(BadInput, match="names no child"):  # several children: the index is required
        sweep_child(base, environ, lambda uri: manifest)
    # A one-child sweep is a plain job (Batch has no array of one): its only child is index 0.
    single = sweeps.plan_sweep(store, store.uri("datasets/scores/versions/v1"), options, settings[:1])
    alone = sweep_child(TrainingSpec.from_env(single.base.to_env()), {}, lambda uri: single.manifest(backend="local"))
    assert alone == single.children[0].spec
    # A spec of no sweep is left as it is, and nothing is read.
    plain = TrainingSpec(dataset="d", output="o")
    assert sweep_child(plain, {}, lambda uri: pytest.fail("read")) is plain


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "foo=1,2"], "does not know override 'foo'"),
        (["--grid", "learning-rate="], "every value must be given"),
        (["--grid", "epochs=" + ",".join(map(str, range(1, 102))), "--grid", "batch-size=" + ",".join(map(str, range(1, 101)))],
         "10,100 children"),
        (["--random", "10001", "--range", "learning-rate=0.001:0.1"], "10,001 children"),
        (["--range", "learning-rate=0.001:0.1"], "add --random N"),
        ([], "nothing to sweep"),
        (["--grid", "epochs=1,2", "--aws", "--slots", "2"], "--slots is for local mode"),
        (["--grid", "include-unchecked=true,false"], "pass it once as --include-unchecked"),
    ],
)
def test_bad_sweeps_end_in_one_line_exit_2_and_nothing_submitted(tmp_path, catalogue, args, message):
    home = tmp_path / "home"
    env = {"OCRBATCH_HOME": str(home), "OCRBATCH_BACKEND": "local"}
    result = runner.invoke(app, ["sweep", "--dataset", "scores@v1", *args], env=env)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) in (1, 2) and "Traceback" not in result.stderr
    assert not (home / "jobs").exists() or not any((home / "jobs").iterdir())
    assert not (home / "store" / "runs").exists()
