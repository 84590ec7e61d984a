"""Wiring: flags to a Target, a Target to the store/backend/clients, each built only when used."""

import pytest

from ocrbatch import aws_clients
from ocrbatch.errors import BadInput
from ocrbatch.jobs.aws_batch import AwsBatchBackend
from ocrbatch.jobs.stack import StackResources
from ocrbatch.wiring import Target, Wiring, resolve_target
from tests.jobs_fakes import REGION

BATCH_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.mark.parametrize(
    "local, environ, flags, expected",
    [
        (None, {}, {}, True),
        (None, {}, {"stack": "s"}, False),
        (None, {}, {"job_ref": BATCH_ID}, False),
        (None, {}, {"job_ref": "local-20261129-abc"}, True),
        (None, {"OCRBATCH_BACKEND": "local"}, {"job_ref": BATCH_ID}, True),
        (None, {"OCRBATCH_BACKEND": " AWS "}, {}, False),
        (True, {"OCRBATCH_BACKEND": "aws"}, {"bucket": "b"}, True),
    ],
)
def test_the_target_follows_flags_then_environment_then_what_is_named(local, environ, flags, expected):
    assert resolve_target(local, environ=environ, **flags).local is expected


def test_a_bad_backend_variable_is_bad_input():
    with pytest.raises(BadInput, match="OCRBATCH_BACKEND"):
        resolve_target(None, environ={"OCRBATCH_BACKEND": "cloud"})


def test_home_defaults_beside_the_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Target(local=True).home_dir == tmp_path / ".ocrbatch"
    assert Target(local=True, home=str(tmp_path / "h")).home_dir == tmp_path / "h"


@pytest.fixture
def built(monkeypatch, clean_env):
    """Record the services whose clients get built; build nothing real."""
    services = []
    monkeypatch.setattr(aws_clients, "make_client", lambda service, **_: services.append(service) or object())
    yield services
    # Sessions are cached per profile and region; one made outside moto must not serve a later test.
    aws_clients.session.cache_clear()


def test_a_bucket_flag_opens_the_store_without_any_client(built):
    wiring = Wiring(Target(local=False, bucket="my-bucket", region=REGION))
    assert wiring.store.uri("datasets/") == "s3://my-bucket/datasets/"
    assert built == []


def test_each_client_is_built_once_on_first_use(built):
    clients = aws_clients.AwsClients(region=REGION)
    first = clients("batch")
    assert clients("batch") is first and built == ["batch"]


class RunningJobBatch:
    def __init__(self):
        self.terminated = []

    def describe_jobs(self, jobs):
        return {"jobs": [{"jobId": jobs[0], "jobName": "j", "status": "RUNNING", "jobQueue": "gpu"}]}

    def terminate_job(self, jobId, reason):
        self.terminated.append(jobId)


def test_the_aws_backend_builds_only_the_clients_a_command_uses():
    asked = []
    batch = RunningJobBatch()

    def clients(service):
        asked.append(service)
        return batch if service == "batch" else pytest.fail(f"cancel built a {service} client")

    backend = AwsBatchBackend(clients=clients, stack=StackResources("s", REGION, found=False))
    backend.cancel(BATCH_ID, "no longer needed")
    assert batch.terminated == [BATCH_ID] and set(asked) == {"batch"}
