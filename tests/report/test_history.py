"""The run's history: points with wall time and attempt, kept across attempts, bounded in size."""

import json

from ocrbatch.storage import LocalStore
from ocrbatch.trainer.history import RunHistory, merge_neighbours


class Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def test_a_retried_attempt_carries_on_the_history_the_reclaimed_one_wrote(tmp_path):
    store, clock = LocalStore(tmp_path), Clock()
    first = RunHistory.resume(store, "runs/r/history.json", attempt=1, clock=clock, interval=0)
    first.start(gpu=True)
    for step in range(1, 11):
        clock.now += 2
        first.step(step, 10.0 / step)
    first.evaluation(10, {"accuracy": 0.5, "norm_edit_distance": 0.2, "ignored": 3})
    clock.now += 60  # reclaimed: no end() was ever called, the store holds what was written last

    second = RunHistory.resume(store, "runs/r/history.json", attempt=2, clock=clock)
    second.start(resumed_from={"global_step": 8}, gpu=True)
    clock.now += 2
    second.step(9, 0.9)
    second.end("succeeded")

    saved = json.loads(store.get_bytes("runs/r/history.json"))
    assert [a["attempt"] for a in saved["attempts"]] == [1, 2]
    assert saved["attempts"][0]["state"] == "training" and saved["attempts"][0]["ended_at"] is None
    assert saved["attempts"][1]["resumed_from"] == {"global_step": 8}
    assert saved["attempts"][1]["state"] == "succeeded" and saved["attempts"][1]["ended_at"] == clock.now
    assert [p["step"] for p in saved["steps"]] == list(range(1, 11)) + [9]  # the lost steps overlap
    assert {p["attempt"] for p in saved["steps"]} == {1, 2}
    assert saved["steps"][0]["time"] == 1_002.0
    assert saved["evals"] == [{"step": 10, "time": 1_020.0, "attempt": 1, "accuracy": 0.5, "norm_edit_distance": 0.2}]


def test_a_rerun_of_the_same_attempt_replaces_what_it_wrote(tmp_path):
    store = LocalStore(tmp_path)
    history = RunHistory.resume(store, "h.json", attempt=1, interval=0)
    history.start()
    history.step(1, 1.0)
    history.end("failed")
    again = RunHistory.resume(store, "h.json", attempt=1)
    assert again.attempts == [] and again.steps == []


def test_the_step_points_stay_bounded_and_keep_their_attempts_apart():
    history = RunHistory(attempt=1, max_points=8)
    for step in range(1, 101):
        history.step(step, 1.0)
    assert len(history.steps) < 8 and history.stride > 1
    assert history.steps[-1]["step"] <= 100

    points = [{"step": s, "loss": float(s), "time": s, "attempt": 1 if s < 3 else 2} for s in range(1, 6)]
    merged = merge_neighbours(points)
    assert [(p["step"], p["attempt"], p["loss"]) for p in merged] == [(2, 1, 1.5), (4, 2, 3.5), (5, 2, 5.0)]


def test_unusable_reports_are_not_recorded():
    history = RunHistory()
    history.step(1, float("nan"))
    history.step(2, None)
    history.evaluation(2, {"loss": 1.0})
    history.end("succeeded")
    assert history.steps == [] and history.evals == [] and history.last_step == 2


def test_an_unreadable_history_starts_afresh(tmp_path):
    store = LocalStore(tmp_path)
    store.put_bytes("h.json", b"{not json")
    history = RunHistory.resume(store, "h.json", attempt=2)
    assert history.to_json()["attempts"] == []


def test_an_attempt_records_its_image_from_the_ecs_task_metadata_endpoint():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from ocrbatch.trainer.history import where_it_runs

    class Metadata(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"Name": "trainer", "Image": "1234.dkr.ecr.us-west-2.amazonaws.com/cdk-assets:abc"})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/v4/task-1"
        facts = where_it_runs(False, {"ECS_CONTAINER_METADATA_URI_V4": endpoint})
    finally:
        server.shutdown()
        server.server_close()
    assert facts == {"device": "CPU", "image": "1234.dkr.ecr.us-west-2.amazonaws.com/cdk-assets:abc"}
    assert where_it_runs(False, {}) == {"device": "CPU"}  # not on Batch: nothing to ask
