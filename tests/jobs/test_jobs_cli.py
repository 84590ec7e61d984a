"""The job commands through Typer's CliRunner: stdout/JSON, stderr and exit codes.

AWS flows run against moto (where a job SUCCEEDs the moment it is submitted, or FAILs with
MOTO_SIMPLE_BATCH_FAIL_AFTER=0); sequences moto cannot produce use a scripted backend.
"""

import json

import boto3
import pytest

from ocrbatch import stack_outputs as keys
from ocrbatch.cli import common as cli_common
from ocrbatch.jobs.backend import Attempt
from ocrbatch.layout import RunLayout
from ocrbatch.storage import S3Store
from tests.cli_runner import run
from tests.jobs_fakes import REGION, FakeClock, ScriptedBackend, job_state, publish_fake_model


@pytest.fixture
def fast_clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(cli_common, "clock", clock)
    monkeypatch.setattr(cli_common, "sleep", clock.sleep)
    return clock


@pytest.fixture
def scripted(monkeypatch, tmp_path, fast_clock):
    """Install a ScriptedBackend for the next commands: scripted(states, **kwargs) -> backend."""

    def install(states, **kwargs):
        backend = ScriptedBackend(tmp_path / "store", states, **kwargs)
        monkeypatch.setattr(cli_common, "open_backend", lambda target, deadline=None: backend)
        return backend

    return install


def dataset_folder(folder):
    """A valid two-image folder: training commands validate a folder before they (fakely) publish it."""
    from PIL import Image

    folder.mkdir()
    for number in (0, 1):
        Image.new("RGB", (12, 8), (number, 0, 0)).save(folder / f"{number}.png")
    (folder / "train.txt").write_text("0.png\t123\n")
    (folder / "val.txt").write_text("1.png\t45\n")
    return folder


def bucket_store(deployment):
    return S3Store(boto3.client("s3", region_name=REGION), deployment[keys.BUCKET])


# --- submit ---------------------------------------------------------------------------------------


def test_dry_run_prints_exactly_the_submit_job_call_and_submits_nothing(deployment, catalogue):
    result = run("submit", "--aws", "--dataset", "pinball@v1", "--epochs", "3", "--gpus", "2", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    call = plan["submit_job"]
    assert call["jobQueue"] == deployment[keys.GPU_QUEUE]
    assert call["jobDefinition"] == deployment[keys.MULTI_GPU_JOB_DEFINITION]
    assert call["containerOverrides"]["resourceRequirements"] == [{"type": "GPU", "value": "2"}]
    env = {e["name"]: e["value"] for e in call["containerOverrides"]["environment"]}
    assert env["OCRBATCH_EPOCHS"] == "3" and env["OCRBATCH_OUTPUT"] == plan["run_uri"]
    assert env["OCRBATCH_DATASET"] == f"s3://{deployment[keys.BUCKET]}/datasets/pinball/versions/v1"
    assert boto3.client("batch", region_name=REGION).list_jobs(
        jobQueue=deployment[keys.GPU_QUEUE], filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}]
    )["jobSummaryList"] == []
    assert list(bucket_store(deployment).list("runs/")) == []


def test_dry_run_of_a_folder_uploads_nothing(deployment, catalogue, tmp_path):
    result = run("submit", "--aws", "--training-data", dataset_folder(tmp_path / "data"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert catalogue.published == []
    assert "jobDefinition" in result.stdout and "dry run" in result.stderr


def test_the_cpu_queue_without_queue_cpu_is_refused_before_anything_is_sent(deployment, catalogue):
    result = run("submit", "--dataset", "pinball@v1", "--job-queue", deployment[keys.CPU_QUEUE])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "--queue cpu" in result.stderr
    assert boto3.client("batch", region_name=REGION).list_jobs(
        jobQueue=deployment[keys.CPU_QUEUE], filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}]
    )["jobSummaryList"] == []
    assert list(bucket_store(deployment).list("runs/")) == []


def test_submit_with_the_seed_flags(deployment, catalogue):
    result = run(
        "submit", "--training-data", "pinball@v1", "--s3-bucket", deployment[keys.BUCKET],
        "--job-queue", deployment[keys.CPU_QUEUE], "--job-definition", deployment[keys.CPU_JOB_DEFINITION],
        "--job-name", "my-training-job", "--config-learning-rate", "0.001", "--config-batch-size", "32",
        "--set", "Global.use_amp=true", "--json",
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) >= {"job_id", "job_name", "run_uri", "dataset", "queue", "backend"}
    assert out["backend"] == "aws" and out["job_name"] == "my-training-job"
    assert out["job_queue"] == deployment[keys.CPU_QUEUE]

    raw = boto3.client("batch", region_name=REGION).describe_jobs(jobs=[out["job_id"]])["jobs"][0]
    env = {e["name"]: e["value"] for e in raw["container"]["environment"]}
    assert env["OCRBATCH_LEARNING_RATE"] == "0.001" and env["OCRBATCH_BATCH_SIZE"] == "32"
    assert json.loads(env["OCRBATCH_OVERRIDES"]) == {"Global.use_amp": "true"}

    record = json.loads(bucket_store(deployment).get_bytes(RunLayout(out["run_id"]).run_spec))
    assert record["job_id"] == out["job_id"] and record["spec"]["output"] == out["run_uri"]
    assert out["run_id"].split("-", 2)[2].startswith("my-training-job-")


def test_submit_a_folder_publishes_it_first_and_prints_the_job_id(deployment, catalogue, tmp_path):
    data = dataset_folder(tmp_path / "scores")
    result = run("submit", "--aws", "--dataset", data)
    assert result.exit_code == 0, result.stderr
    assert catalogue.published == [(data, "scores")]
    job_id = result.stdout.strip()
    assert len(job_id.splitlines()) == 1
    assert f"ocrbatch monitor {job_id}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "nope"], "engine must be one of"),
        (["--set", "no-equals-sign"], "KEY=VALUE"),
        (["--queue", "tpu"], "--queue must be gpu or cpu"),
        (["--job-name", "bad name!"], "job name"),
        (["--epochs", "0"], "epochs must be a positive integer"),
        # a model folder is on this machine, not in the training image
        (["--set", "init_from=./pinball-model"], "a job on AWS can start only from a shipped base"),
    ],
)
def test_bad_submit_input_is_one_line_and_exit_2(deployment, catalogue, args, message):
    result = run("submit", "--aws", "--dataset", "pinball@v1", *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_unknown_dataset_and_missing_dataset_exit_2(deployment, catalogue):
    assert run("submit", "--aws", "--dataset", "missing@v9").exit_code == 2
    result = run("submit", "--aws")
    assert result.exit_code == 2 and "no dataset in s3://" in result.stderr and "--dataset DIR" in result.stderr


def test_missing_stack_says_to_deploy(moto_aws):
    result = run("list", "--aws")
    assert result.exit_code == 2
    assert "cdk deploy" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --- monitor, logs, list on moto ------------------------------------------------------------------


def submit_on_moto(*extra):
    result = run("submit", "--aws", "--dataset", "pinball@v1", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_submit_then_monitor_latest_succeeds_and_list_shows_accuracy(deployment, catalogue, fast_clock, tmp_path):
    submitted = submit_on_moto()
    store = bucket_store(deployment)
    publish_fake_model(store, RunLayout(submitted["run_id"]).prefix, tmp_path, accuracy=0.93)

    result = run("monitor", "latest", "--aws")
    assert result.exit_code == 0, result.stderr
    assert f"job {submitted['job_id']}" in result.stderr and "SUCCEEDED" in result.stderr
    assert "accuracy: 93.00%" in result.stdout

    result = run("monitor", "--job-id", submitted["job_id"], "--aws", "--json")
    doc = json.loads(result.stdout)
    assert doc["status"] == "SUCCEEDED" and doc["accuracy"] == 0.93
    assert doc["model_uri"] == store.uri(RunLayout(submitted["run_id"]).model)

    listed = json.loads(run("list", "--aws", "--json").stdout)
    assert [(j["job_id"], j["status"], j["accuracy"]) for j in listed["jobs"]] == [
        (submitted["job_id"], "SUCCEEDED", 0.93)
    ]
    table = run("list", "--aws").stdout.splitlines()
    assert table[0].split() == ["JOB", "ID", "NAME", "STATUS", "AGE", "DATASET", "ACCURACY", "RECLAIMS", "COST"]
    assert "pinball@v1" in table[1] and "93.0%" in table[1]


def test_seed_monitor_with_only_a_batch_job_id_goes_to_aws(deployment, catalogue, fast_clock):
    submitted = submit_on_moto()
    result = run("monitor", "--job-id", submitted["job_id"])
    assert result.exit_code == 0, result.stderr
    assert "SUCCEEDED" in result.stdout


def test_failed_job_on_moto_exits_1(deployment, catalogue, fast_clock, monkeypatch):
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    submitted = submit_on_moto()
    result = run("monitor", submitted["job_id"], "--aws")
    assert result.exit_code == 1
    assert "FAILED" in result.stdout


def test_logs_print_the_stream(deployment, catalogue):
    import time

    submitted = submit_on_moto()
    stream = boto3.client("batch", region_name=REGION).describe_jobs(jobs=[submitted["job_id"]])["jobs"][0][
        "container"]["logStreamName"]
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_stream(logGroupName=deployment[keys.LOG_GROUP], logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=deployment[keys.LOG_GROUP], logStreamName=stream,
                        logEvents=[{"timestamp": now, "message": "epoch 1"}, {"timestamp": now + 1, "message": "done"}])
    result = run("logs", submitted["job_id"], "--aws")
    assert result.exit_code == 0 and result.stdout.splitlines() == ["epoch 1", "done"]
    assert result.stderr == ""  # lines printed: no note that there are none
    doc = json.loads(run("logs", submitted["job_id"], "--aws", "--json").stdout)
    assert doc["lines"] == ["epoch 1", "done"]
    assert run("logs", submitted["job_id"], "--aws", "--json", "--follow").exit_code == 2


# --- download -------------------------------------------------------------------------------------


def test_download_latest_verifies_and_refuses_to_overwrite_another_model(deployment, catalogue, tmp_path):
    first = submit_on_moto()
    store = bucket_store(deployment)
    publish_fake_model(store, RunLayout(first["run_id"]).prefix, tmp_path, accuracy=0.9)
    dest = tmp_path / "model"

    result = run("download", "--aws", "--output-dir", dest, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["verified"] and doc["job_id"] == first["job_id"] and doc["accuracy"] == 0.9
    assert (dest / "inference.pdiparams").read_bytes() == b"w" * 64
    assert "downloading" in result.stderr

    second = submit_on_moto()
    publish_fake_model(store, RunLayout(second["run_id"]).prefix, tmp_path, weights=b"other")
    result = run("download", "latest", "--aws", "--output-dir", dest)
    assert result.exit_code == 2 and "--force" in result.stderr
    result = run("download", second["job_id"], "--aws", "--output-dir", dest, "--force")
    assert result.exit_code == 0, result.stderr
    assert (dest / "inference.pdiparams").read_bytes() == b"other"


def test_download_needs_an_output_dir_and_a_finished_job(scripted, tmp_path):
    scripted([job_state("RUNNING")])
    running = run("download", "job-1", "--aws", "--s3-bucket", "b", "--output-dir", tmp_path / "m")
    assert running.exit_code == 2 and running.stderr.strip() == (
        "error: job job-1 is RUNNING: its model is published when it succeeds "
        "(follow it with `ocrbatch monitor job-1 --aws --s3-bucket b`)")
    assert run("download", "job-1").exit_code == 2
    scripted([job_state("SUCCEEDED")])  # its run folder holds no model
    gone = run("download", "job-1", "--output-dir", tmp_path / "m")
    assert gone.exit_code == 2 and "job job-1 SUCCEEDED but there is no model at " in gone.stderr
    assert "not finished" not in gone.stderr
    scripted([job_state("FAILED", reason="boom")])
    result = run("download", "job-1", "--output-dir", tmp_path / "m")
    assert result.exit_code == 1 and "boom" in result.stderr


# --- scripted sequences ---------------------------------------------------------------------------


def test_monitor_failed_job_shows_reason_and_exits_1(scripted):
    failure = Attempt(started_at=1.0, stopped_at=2.0, exit_code=137, reason="OutOfMemoryError: Container killed")
    scripted([job_state("RUNNING"), job_state("FAILED", reason="OutOfMemoryError: Container killed", attempts=[failure])])
    result = run("monitor", "job-1")
    assert result.exit_code == 1
    assert "attempt 1 failed: exit code 137, OutOfMemoryError: Container killed" in result.stderr
    assert result.stdout.splitlines()[0] == "job-1  pinball  FAILED"
    doc = json.loads(run("monitor", "job-1", "--json").stdout)
    assert doc["status"] == "FAILED"


def test_ctrl_c_detaches_with_how_to_reattach_and_never_cancels(scripted):
    backend = scripted([job_state("RUNNING")], errors={2: KeyboardInterrupt()})
    result = run("monitor", "job-1", "--local")
    assert result.exit_code == 130
    assert "ocrbatch monitor job-1 --local" in result.stderr
    assert "ocrbatch cancel job-1 --local" in result.stderr
    assert backend.cancelled == []


def test_detaching_from_an_aws_job_says_the_alert_topic_keeps_watching(scripted):
    scripted([job_state("RUNNING")], errors={2: KeyboardInterrupt()})
    result = run("monitor", "job-1", "--stack", "s")
    assert result.exit_code == 130
    assert "alert topic" in result.stderr
    assert "alert topic" not in run("monitor", "job-1", "--local", "--timeout", "2m").stderr


def test_monitor_timeout_exits_124_with_how_to_reattach(scripted):
    backend = scripted([job_state("RUNNING")])
    result = run("monitor", "job-1", "--local", "--timeout", "2m", "--json")
    assert result.exit_code == 124
    assert json.loads(result.stdout)["status"] == "RUNNING"  # the state when it stopped waiting
    assert "stopped waiting after 120 s (--timeout): job job-1 is RUNNING" in result.stderr
    assert "ocrbatch monitor job-1 --local" in result.stderr
    assert backend.cancelled == []


@pytest.mark.parametrize("bad", ["0", "-5", "soon", "5d", "1.5.2"])
def test_monitor_rejects_a_bad_timeout_before_any_call(scripted, bad):
    backend = scripted([job_state("RUNNING")])
    result = run("monitor", "job-1", "--timeout", bad)
    assert result.exit_code == 2 and "--timeout must be a positive duration" in result.stderr
    assert backend.polls == 0


def test_monitor_once_prints_the_current_state(scripted):
    scripted([job_state("RUNNABLE", reason="waiting for capacity")])
    result = run("monitor", "job-1", "--once", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "RUNNABLE"
    result = run("monitor", "job-1", "--no-follow")
    assert result.stdout.splitlines()[:2] == ["job-1  pinball  RUNNABLE", "reason: waiting for capacity"]


def test_logs_follow_until_the_job_ends(scripted):
    scripted(
        [job_state("RUNNING", log_stream="s"), job_state("RUNNING", log_stream="s"), job_state("SUCCEEDED", log_stream="s")],
        logs={0: ["one"], 2: ["two"]},
    )
    result = run("logs", "job-1", "--follow")
    assert result.exit_code == 0 and result.stdout.splitlines() == ["one", "two"]


def test_cancel_chooses_by_state(scripted):
    backend = scripted([job_state("RUNNING")])
    result = run("cancel", "job-1", "--json")
    assert json.loads(result.stdout) == {"job_id": "job-1", "previous_status": "RUNNING", "action": "terminate"}
    assert backend.cancelled == [("job-1", "cancelled with ocrbatch cancel")]

    backend = scripted([job_state("SUCCEEDED")])
    result = run("cancel", "--job-id", "job-1")
    assert result.exit_code == 0 and "nothing to cancel" in result.stdout
    # Still handed to the backend: a finished local job's stray processes stop (AWS: nothing to do).
    assert backend.cancelled == [("job-1", "cancelled with ocrbatch cancel")]
    assert run("cancel").exit_code == 2


def test_a_job_ocrbatch_cancel_ended_is_listed_cancelled_and_a_failure_stays_failed(scripted):
    backend = scripted([job_state("RUNNING")])
    assert run("cancel", "job-1", "--reason", "wrong learning rate").exit_code == 0
    [(_, sent)] = backend.cancelled
    assert sent == "cancelled with ocrbatch cancel: wrong learning rate"

    scripted([job_state("FAILED", reason=sent)])  # Batch ends a cancelled job FAILED, with the reason sent
    assert run("list").stdout.splitlines()[1].split()[:3] == ["job-1", "pinball", "CANCELLED"]
    row = json.loads(run("list", "--json").stdout)["jobs"][0]
    assert row["status"] == "FAILED" and row["cancelled"] is True  # scripts keep Batch's state
    assert run("monitor", "job-1", "--once").stdout.splitlines()[:2] == [
        "job-1  pinball  CANCELLED", f"reason: {sent}"]

    for reason in ("Essential container in task exited", "Terminated by user"):
        scripted([job_state("FAILED", reason=reason)])
        assert run("list").stdout.splitlines()[1].split()[2] == "FAILED"
        assert json.loads(run("list", "--json").stdout)["jobs"][0]["cancelled"] is False


def test_a_cancel_reason_batch_cannot_record_is_refused_before_anything_is_sent(scripted):
    backend = scripted([job_state("RUNNING")])
    result = run("cancel", "job-1", "--reason", "x" * 1000)
    assert result.exit_code == 2 and "--reason is 1000 characters" in result.stderr
    assert backend.cancelled == [] and backend.polls == 0


# --- pipeline -------------------------------------------------------------------------------------


@pytest.fixture
def trainer_publishes(monkeypatch, tmp_path):
    """Make moto's instantly-SUCCEEDED jobs publish a model, as the trainer in the image would."""
    from ocrbatch.jobs.aws_batch import AwsBatchBackend

    original = AwsBatchBackend.submit

    def submit_and_train(self, request):
        job = original(self, request)
        prefix = request.spec.output.split(f"s3://{self.store.bucket}/", 1)[1]
        publish_fake_model(self.store, prefix, tmp_path, accuracy=0.99)
        return job

    monkeypatch.setattr(AwsBatchBackend, "submit", submit_and_train)


def test_pipeline_with_the_seed_flags(deployment, catalogue, fast_clock, trainer_publishes, tmp_path):
    data = dataset_folder(tmp_path / "paddleocr_training")
    out = tmp_path / "models" / "aws_trained"
    result = run(
        "pipeline", "--training-data", data, "--s3-bucket", deployment[keys.BUCKET],
        "--job-queue", deployment[keys.GPU_QUEUE], "--job-definition", deployment[keys.GPU_JOB_DEFINITION],
        "--output-dir", out, "--config-learning-rate", "0.001", "--config-batch-size", "32",
    )
    assert result.exit_code == 0, result.stderr
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]"):
        assert step in result.stderr
    assert catalogue.published == [(data, "paddleocr_training")]
    assert result.stdout.startswith("SUCCEEDED job ") and "(accuracy 99.0%)" in result.stdout
    assert (out / "inference.pdiparams").is_file() and (out / "manifest.json").is_file()


def test_pipeline_json_and_failed_job_exit_1(deployment, catalogue, fast_clock, monkeypatch, tmp_path):
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    result = run("pipeline", "--aws", "--dataset", "pinball@v1", "--output-dir", tmp_path / "m", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["status"] == "FAILED" and doc["model_dir"] is None
    assert not (tmp_path / "m").exists()


def test_pipeline_refuses_an_occupied_output_dir_before_it_trains(scripted, catalogue, tmp_path):
    backend = scripted([job_state("SUCCEEDED")])
    held = tmp_path / "model"
    held.mkdir()
    (held / "manifest.json").write_text("{}")
    result = run("pipeline", "--local", "--dataset", "pinball@v1", "--output-dir", held)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {held} already holds a model; pass --force to replace it, or another --output-dir"
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("mine")
    result = run("pipeline", "--local", "--dataset", "pinball@v1", "--output-dir", other)
    assert result.exit_code == 2 and "is not empty; pass --force" in result.stderr
    assert backend.submitted == [] and catalogue.published == []
    assert (other / "todo.txt").read_text() == "mine"


def test_pipeline_timeout_leaves_the_job_running_and_says_how_to_finish(scripted, catalogue, tmp_path):
    backend = scripted([job_state("RUNNING")])
    result = run("pipeline", "--local", "--dataset", "pinball@v1", "--output-dir", tmp_path / "m", "--timeout", "45s")
    assert result.exit_code == 124, result.stderr
    assert "stopped waiting after 45 s (--timeout)" in result.stderr
    assert "ocrbatch download job-1 --output-dir DIR --local" in result.stderr
    assert backend.cancelled == [] and not (tmp_path / "m").exists()


def test_pipeline_bounds_its_aws_calls_by_the_timeout_only_while_it_follows_the_job(
        scripted, catalogue, tmp_path, monkeypatch):
    backend = scripted([job_state("RUNNABLE"), job_state("RUNNING")])
    given, left_at = {}, {}

    def open_backend(target, deadline=None):
        given["deadline"] = deadline
        return backend

    def noting(step, call):
        def wrapped(*args):
            left_at.setdefault(step, given["deadline"].left())
            return call(*args)
        return wrapped

    monkeypatch.setattr(cli_common, "open_backend", open_backend)
    monkeypatch.setattr(backend, "submit", noting("submit", backend.submit))
    monkeypatch.setattr(backend, "describe", noting("follow", backend.describe))
    result = run("pipeline", "--aws", "--dataset", "pinball@v1", "--output-dir", tmp_path / "m", "--timeout", "45s")
    assert result.exit_code == 124, result.stderr
    assert left_at["submit"] is None  # the upload and submit before it are not bounded by --timeout
    assert 44 < left_at["follow"] <= 45 + 3  # following is: the timeout, and the grace of a poll begun on it
    assert given["deadline"].left() is None  # nor is what comes after


# --- doctor ---------------------------------------------------------------------------------------


def test_doctor_against_moto(deployment):
    result = run("doctor", "--aws", "--json")
    doc = json.loads(result.stdout)
    statuses = {check["name"]: check["status"] for check in doc["checks"]}
    assert statuses["credentials"] == statuses["stack"] == statuses["bucket"] == "ok"
    # moto serves no EC2 quotas: reported as unreadable, not as a failure.
    assert statuses["GPU Spot quota (G)"] == "warn"
    assert result.exit_code == 0 and doc["ok"]
    lines = run("doctor", "--aws").stdout.splitlines()
    assert lines[0].startswith("ok    credentials")


def test_doctor_fails_with_exit_3_without_a_stack(moto_aws):
    result = run("doctor", "--stack", "nope")
    assert result.exit_code == 3
    assert any(line.startswith("FAIL  stack") and "cdk deploy" in line for line in result.stdout.splitlines())


def test_submit_a_real_dataset_folder_then_by_its_version(deployment, tmp_path):
    """Wired to the real ocrbatch.datasets: the folder is validated and published to the bucket."""
    from PIL import Image

    folder = tmp_path / "scores"
    (folder / "img").mkdir(parents=True)
    lines = []
    for i, text in enumerate(["120", "4500", "77", "31337"]):
        Image.new("RGB", (48, 16), "white").save(folder / "img" / f"{i}.png")
        lines.append(f"img/{i}.png\t{text}")
    (folder / "train.txt").write_text("\n".join(lines[:3]) + "\n")
    (folder / "val.txt").write_text(lines[3] + "\n")

    first = submit_on_moto_with("--dataset", folder)
    assert first["dataset"].startswith(f"s3://{deployment[keys.BUCKET]}/datasets/scores/versions/")
    version = first["dataset"].rsplit("/", 1)[1]
    again = submit_on_moto_with("--dataset", f"scores@{version}")
    assert again["dataset"] == first["dataset"]
    # The seed's `submit` named no dataset: the newest uploaded version is used.
    assert submit_on_moto_with()["dataset"] == first["dataset"]
    raw = boto3.client("batch", region_name=REGION).describe_jobs(jobs=[again["job_id"]])["jobs"][0]
    env = {e["name"]: e["value"] for e in raw["container"]["environment"]}
    assert env["OCRBATCH_TASK"] == "rec" and env["OCRBATCH_DATASET"] == first["dataset"]


def submit_on_moto_with(*args):
    result = run("submit", "--aws", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --- messages a user can act on ------------------------------------------------------------------


def test_submit_names_the_queue_the_job_went_to_and_hints_repeat_the_users_flags(deployment, catalogue):
    queue = deployment[keys.CPU_QUEUE]
    flags = ["--s3-bucket", deployment[keys.BUCKET], "--job-queue", queue,
             "--job-definition", deployment[keys.CPU_JOB_DEFINITION]]
    result = run("submit", "--training-data", "pinball@v1", *flags)
    assert result.exit_code == 0, result.stderr
    assert f" to queue {queue};" in result.stderr and "(gpu queue)" not in result.stderr
    job_id = result.stdout.strip()
    assert f"follow it: ocrbatch monitor {job_id} --aws {' '.join(flags)}" in result.stderr


@pytest.mark.parametrize(("backend_name", "words"), [
    ("local", "the local queue (this machine)"),
    ("aws", "queue ocrbatch-gpu"),
])
def test_submit_sweep_and_pipeline_say_where_the_job_went_in_the_same_words(
    scripted, catalogue, tmp_path, backend_name, words
):
    from dataclasses import replace

    backend = scripted([replace(job_state("SUCCEEDED"), queue="arn:aws:batch:us-west-2:123456789012:job-queue/ocrbatch-gpu")])
    backend.name = backend_name
    submitted = run("submit", "--dataset", "pinball@v1")
    assert submitted.exit_code == 0, submitted.stderr
    assert f" to {words}; run " in submitted.stderr
    swept = run("sweep", "--dataset", "pinball@v1", "--grid", "learning-rate=0.001,0.002")
    assert swept.exit_code == 0, swept.stderr
    assert f"as one array job to {words}; manifest " in swept.stderr
    piped = run("pipeline", "--dataset", "pinball@v1", "--output-dir", tmp_path / "model")
    assert f" submitted to {words}; run " in piped.stderr, piped.stderr


def test_timeout_hints_repeat_the_users_flags(scripted):
    scripted([job_state("RUNNING")])
    result = run("monitor", "job-1", "--s3-bucket", "my bucket", "--job-queue", "q", "--timeout", "1m")
    assert result.exit_code == 124
    assert "reattach: ocrbatch monitor job-1 --aws --s3-bucket 'my bucket' --job-queue q" in result.stderr
    assert "cancel:   ocrbatch cancel job-1 --aws --s3-bucket 'my bucket' --job-queue q" in result.stderr


def test_top_level_help_says_local_mode_is_the_default():
    result = run("--help")
    assert "on this machine (local mode, the default)" in result.stdout and "with --local." not in result.stdout


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (job_state("RUNNABLE"), "no log yet: job job-1 is RUNNABLE (the log appears once it starts)"),
        (job_state("FAILED", reason="cancelled with ocrbatch cancel"),
         "job job-1 ended FAILED before it started (cancelled with ocrbatch cancel): it has no log"),
        (job_state("RUNNING", log_stream="gpu/default/abc"), "no lines in its log stream gpu/default/abc yet: job job-1 is RUNNING"),
        (job_state("SUCCEEDED", log_stream="gpu/default/abc"),
         "no lines in its log stream gpu/default/abc: job job-1 ended SUCCEEDED"),  # no "yet": it is over
    ],
)
def test_logs_never_answer_with_silence(scripted, state, expected):
    from dataclasses import replace

    scripted([replace(state, started_at=None) if not state.log_stream else state])
    result = run("logs", "job-1")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr.strip() == expected


def test_download_latest_says_when_it_is_not_the_newest_job(scripted, monkeypatch, tmp_path):
    from dataclasses import replace

    newest = replace(job_state("RUNNING"), job_id="job-2", created_at=2_000_000_000.0)
    succeeded = replace(job_state("SUCCEEDED"), job_id="job-1", created_at=1_000_000_000.0)
    backend = scripted([succeeded])
    monkeypatch.setattr(backend, "list_jobs", lambda limit=50: [newest, succeeded])
    result = run("download", "latest", "--output-dir", tmp_path / "model")
    assert ("latest: job job-1 (pinball), the newest succeeded job, SUCCEEDED; the newest job, job-2, is RUNNING"
            in result.stderr.splitlines())
    assert "downloading the model of job job-1" in result.stderr


def test_latest_is_the_newest_job_for_the_commands_that_look_at_one_and_each_says_which(scripted, monkeypatch):
    from dataclasses import replace

    newest = replace(job_state("RUNNING"), job_id="job-2", created_at=2_000_000_000.0)
    older = replace(job_state("SUCCEEDED"), job_id="job-1", created_at=1_000_000_000.0)
    backend = scripted([newest])
    monkeypatch.setattr(backend, "list_jobs", lambda limit=50: [older, newest])
    for command in (["monitor", "latest", "--once"], ["logs", "latest"], ["cancel", "latest"]):
        assert "latest: job job-2 (pinball), the newest job, RUNNING" in run(*command).stderr.splitlines(), command
    assert backend.cancelled == [("job-2", "cancelled with ocrbatch cancel")]
    assert "latest" not in run("monitor", "job-2", "--once").stderr  # a job named by its id needs no word


def test_latest_with_nothing_to_take_says_why_with_the_users_flags(scripted, monkeypatch, tmp_path):
    from dataclasses import replace

    backend = scripted([replace(job_state("FAILED", reason="boom"), job_id="job-9")])
    flags = ["--aws", "--s3-bucket", "b", "--job-queue", "q"]
    result = run("download", "latest", *flags, "--output-dir", tmp_path / "model")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: no succeeded job on the fake backend to take a model from: the newest job, job-9, is FAILED; "
        "see why with `ocrbatch monitor job-9 --aws --s3-bucket b --job-queue q`")
    monkeypatch.setattr(backend, "list_jobs", lambda limit=50: [])
    result = run("monitor", "latest", *flags)
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: no job found on the fake backend; "
                                     "submit one with `ocrbatch submit --aws --s3-bucket b --job-queue q`")


def test_a_submit_without_an_answer_says_the_job_may_exist_and_keeps_its_run(scripted, catalogue, monkeypatch):
    from botocore.exceptions import ReadTimeoutError

    backend = scripted([job_state("SUBMITTED")])

    def no_answer(request):
        raise ReadTimeoutError(endpoint_url="https://batch.us-west-2.amazonaws.com/v1/submitjob")

    monkeypatch.setattr(backend, "submit", no_answer)
    result = run("submit", "--dataset", "pinball@v1", "--job-queue", "q", "--job-name", "mine")
    assert result.exit_code == 3
    message = result.stderr.strip()
    assert message.startswith("error: no answer to the submit of job mine (ReadTimeoutError): it may have been created")
    assert "look for it with `ocrbatch list --aws --job-queue q` before submitting again" in message
    assert list(backend.store.list("runs/")), "the run record stays for a job that may exist"


def test_latest_colon_index_names_a_child_of_the_newest_sweep(scripted, monkeypatch):
    from dataclasses import replace

    sweep = replace(job_state("RUNNING"), job_id="sweep-1", array_size=3)
    child = replace(job_state("RUNNING"), job_id="sweep-1:2")
    backend = scripted([sweep])
    asked = []
    monkeypatch.setattr(backend, "describe", lambda job_id: asked.append(job_id) or child)
    result = run("monitor", "latest:2", "--once", "--no-logs")
    assert result.exit_code == 0, result.stderr
    assert asked and set(asked) == {"sweep-1:2"}
    assert "sweep-1:2" in result.stdout
    assert "latest:2: job sweep-1:2, a child of sweep sweep-1 (pinball), the newest job" in result.stderr.splitlines()

    monkeypatch.setattr(backend, "list_jobs", lambda limit=50: [replace(job_state("RUNNING"), job_id="job-7")])
    result = run("logs", "latest:2")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: latest:2 names a sweep's child, but the newest job, job-7, is not a sweep"
