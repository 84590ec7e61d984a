"""Starting the builtin recognizer from trained weights (``init_from``): what is copied, what is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ocrbatch.errors import BadInput

pytest.importorskip("paddle")

from ocrbatch.trainer.engines.builtin import checkpoints, warm_start  # noqa: E402
from ocrbatch.trainer.engines.builtin.data import Charset  # noqa: E402
from ocrbatch.trainer.engines.builtin.model import ModelConfig, build  # noqa: E402

SMALL = {"channels": (8, 16, 24, 32), "hidden_size": 32, "seq_blocks": 1}


def _base(tmp_path, characters="0123456789", **shape):
    import paddle

    paddle.seed(1)
    charset = Charset.from_characters(characters)
    config = ModelConfig(num_classes=charset.num_classes, **{**SMALL, **shape})
    model = build(config)
    warm_start.save(tmp_path / "base", model.state_dict(), config, charset, {"note": "test"})
    return tmp_path / "base", model


def test_a_run_with_more_characters_keeps_the_rows_of_those_the_base_knows(tmp_path):
    import paddle

    folder, base = _base(tmp_path)
    charset = Charset.from_characters(",0123456789")  # "," is new, and first
    config = ModelConfig(num_classes=charset.num_classes, **SMALL)
    paddle.seed(2)
    model = build(config)
    fresh_comma = model.state_dict()["classifier.bias"].numpy()[1].copy()
    info = warm_start.load_into(model, config, charset, folder)

    own, theirs = model.state_dict(), base.state_dict()
    for key in own:
        if key.startswith("classifier"):
            continue
        np.testing.assert_array_equal(own[key].numpy(), theirs[key].numpy())
    weight, base_weight = own["classifier.weight"].numpy(), theirs["classifier.weight"].numpy()
    # classes: blank, then the dictionary, then the space; "7" is row 8 here and row 7 in the base
    np.testing.assert_array_equal(weight[8], base_weight[7])
    np.testing.assert_array_equal(weight[0], base_weight[0])  # blank
    np.testing.assert_array_equal(weight[-1], base_weight[-1])  # space
    assert own["classifier.bias"].numpy()[1] == fresh_comma  # nothing known of ",": left as initialised
    assert info["init_characters_known"] == 10 and info["init_trained"] == {"note": "test"}


def test_another_network_shape_is_refused_with_the_settings_to_use(tmp_path):
    folder, _ = _base(tmp_path, hidden_size=48)
    charset = Charset.from_characters("0123456789")
    config = ModelConfig(num_classes=charset.num_classes, **SMALL)
    with pytest.raises(BadInput, match="hidden_size=48"):
        warm_start.load_into(build(config), config, charset, folder)


def test_a_run_that_names_no_shape_takes_the_bases(tmp_path):
    from ocrbatch.trainer.engines.builtin.settings import settings_from_spec
    from ocrbatch.trainer.spec import TrainingSpec

    folder, _ = _base(tmp_path, hidden_size=48, width_stride=8)
    overrides = {"init_from": str(folder), "Global.seq_blocks": "2"}
    settings = settings_from_spec(TrainingSpec(dataset="x", output="file:///x", overrides=overrides))
    adopted = warm_start.with_base_shape(settings, overrides)
    assert (adopted.channels, adopted.hidden_size, adopted.width_stride) == (SMALL["channels"], 48, 8)
    assert adopted.seq_blocks == 2  # named by the run: kept, and load_into says it does not fit
    charset = Charset.from_characters("0123456789")
    config = ModelConfig(num_classes=charset.num_classes, channels=adopted.channels, hidden_size=48,
                         seq_blocks=adopted.seq_blocks, width_stride=8)
    with pytest.raises(BadInput, match="seq_blocks=1"):
        warm_start.load_into(build(config), config, charset, folder)


def test_replaced_weights_are_refused(tmp_path):
    folder, _ = _base(tmp_path)
    data = bytearray((folder / warm_start.WEIGHTS_NAME).read_bytes())
    (folder / warm_start.WEIGHTS_NAME).write_bytes(bytes(data[: len(data) // 2]))
    charset = Charset.from_characters("0123456789")
    config = ModelConfig(num_classes=charset.num_classes, **SMALL)
    with pytest.raises(BadInput, match="does not match"):
        warm_start.load_into(build(config), config, charset, folder)


def test_an_unknown_name_lists_the_shipped_bases(tmp_path):
    with pytest.raises(BadInput, match="pinball-scores"):
        warm_start.resolve("pinball-scorez")
    assert warm_start.resolve(str(_base(tmp_path)[0])) == tmp_path / "base"
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / warm_start.META_NAME).write_text("{}")
    with pytest.raises(BadInput, match="neither"):
        warm_start.resolve(str(tmp_path / "half"))


def test_the_shipped_base_fits_the_engines_default_network():
    """The shipped weights load into the network the engine builds by default, and say how they were made."""
    from ocrbatch.trainer.engines.builtin.settings import Settings

    folder = warm_start.resolve("pinball-scores")
    meta = json.loads((folder / warm_start.META_NAME).read_text())
    defaults = Settings()
    charset = Charset.from_characters(meta["characters"])
    config = ModelConfig(num_classes=charset.num_classes, channels=defaults.channels,
                         hidden_size=defaults.hidden_size, seq_blocks=defaults.seq_blocks,
                         width_stride=defaults.width_stride, input_height=defaults.input_height)
    info = warm_start.load_into(build(config), config, charset, folder)
    assert info["init_from"] == "pinball-scores"
    records, runs = [meta["trained"]], 0
    while records:  # the base, the bases averaged into it and each it went on from: held-out families stay unseen
        record = records.pop()
        assert record["built_by"] == "scripts/pinball_base.py"
        if "averaged" in record:
            assert len(record["averaged"]) >= 2
            records += record["averaged"]
            continue
        assert record["data"]["renderers"] == "train"
        runs += 1
        records += [record["init_trained"]] if record.get("init_trained") else []
    assert runs >= 1


def _engine_from_base(tmp_path, seed: int):
    """A tiny seg7 dataset and a base that knows its characters; returns (base folder, dataset
    characters, attempt), where attempt(stop_at_step) trains one attempt of the same run."""
    from ocrbatch.synth import generate_dataset
    from ocrbatch.trainer.engines.base import LocalDataset, TrainContext
    from ocrbatch.trainer.engines.builtin import BuiltinEngine
    from ocrbatch.trainer.spec import TrainingSpec

    folder, _ = _base(tmp_path, characters="0123456789,.")
    data = tmp_path / "data"
    summary = generate_dataset(data, count=60, seed=seed, task="rec", styles=["seg7"], val_fraction=0.2)
    dataset = LocalDataset(root=data, task="rec", train_labels=data / "train.txt", val_labels=data / "val.txt",
                           characters=tuple(sorted(summary["characters"])), version=f"file://{data}")
    # No shape named: the run takes the base's (SMALL), not the engine's default network.
    overrides = {"batch_size": "16", "epochs": "1", "init_from": str(folder)}

    def attempt(stop_at_step: int | None = None):
        ctx = TrainContext(spec=TrainingSpec(dataset=dataset.version, output=f"file://{tmp_path}/run",
                                             overrides=overrides),
                           dataset=dataset, workdir=tmp_path / "run" / "work", checkpoint_dir=tmp_path / "run" / "ckpt",
                           export_dir=tmp_path / "run" / "export", on_checkpoint=lambda info: None,
                           report=lambda **values: values.get("step") == stop_at_step and ctx.stop_requested.set())
        return BuiltinEngine().train(ctx)

    return folder, summary["characters"], attempt


@pytest.mark.slow
def test_a_fresh_run_starts_from_the_base_and_says_so(tmp_path):
    folder, characters, attempt = _engine_from_base(tmp_path, seed=5)
    metrics = attempt().metrics
    assert metrics["init_from"] == str(folder) and metrics["init_characters_known"] == len(characters)
    config = (tmp_path / "run" / "work" / "builtin" / "config.yml").read_text()
    assert f"init_from: {folder}" in config

    # The exported model carries its weights: the next run can start from it.
    export = tmp_path / "run" / "export"
    meta = warm_start.read_meta(export)
    assert meta["trained"]["accuracy"] == metrics["accuracy"] and meta["trained"]["init_from"] == str(folder)
    model_config, charset = ModelConfig.from_json(meta["model"]), Charset.from_characters(characters)
    following = build(model_config)
    assert warm_start.load_into(following, model_config, charset, export)["init_characters_known"] == len(characters)
    best = build(model_config)
    checkpoints.load_best_weights(tmp_path / "run" / "ckpt", best, {"characters": meta["characters"], "model": meta["model"]})
    for key, value in best.state_dict().items():
        np.testing.assert_array_equal(following.state_dict()[key].numpy(), value.numpy())


def test_a_misnamed_base_fails_before_any_training(tmp_path):
    from ocrbatch.trainer.engines.builtin.settings import settings_from_spec
    from ocrbatch.trainer.spec import TrainingSpec

    settings = settings_from_spec(TrainingSpec(dataset="x", output="file:///x", overrides={"init_from": "nope"}))
    assert settings.init_from == "nope"
    with pytest.raises(BadInput, match="init_from 'nope'"):
        warm_start.resolve(settings.init_from)


@pytest.mark.slow
def test_a_run_resumed_after_a_stop_still_says_what_it_started_from(tmp_path):
    """The second attempt loads its own checkpoint, not the base, and its metrics keep init_from."""
    from ocrbatch.trainer.engines.base import Preempted

    folder, _, attempt = _engine_from_base(tmp_path, seed=6)
    with pytest.raises(Preempted):
        attempt(stop_at_step=2)
    metrics = attempt().metrics
    assert metrics["resumed_from"] == {"epoch": 0, "step": 2}
    assert metrics["init_from"] == str(folder)
