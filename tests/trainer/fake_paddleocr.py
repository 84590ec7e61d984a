"""A stand-in PaddleOCR checkout for tests, written from PADDLEOCR_CONTRACT.md (no real checkout here).

``make_checkout(root)`` writes:
- ``configs/rec/PP-OCRv5/PP-OCRv5_mobile_rec.yml`` and ``configs/det/PP-OCRv5/PP-OCRv5_mobile_det.yml``:
  the documented structure of the PP-OCRv5 configs (sections, anchors, sampler batch size), by us;
- ``tools/train.py``: honours ``-c``/``-o`` like program.ArgsParser, writes ``config.yml`` and
  ``train.log`` into save_model_dir, prints contract-format step and eval lines, saves
  ``latest.{pdopt,pdparams,states}`` per epoch (in that order) and ``best_accuracy.*`` on eval,
  resumes from ``Global.checkpoints`` at saved epoch + 1, and on SIGTERM kills its process group
  when it leads it (as ppocr/data set_signal_handlers does);
- ``tools/export_model.py``: writes inference.json/.pdiparams/.yml from ``Global.pretrained_model``;
- ``tools/eval.py``: prints a ``metric eval`` block;
- ``ppocr/data``, ``ppocr/utils/save_load.py`` and ``tools/program.py``: the functions our launcher wraps (only
  ``set_signal_handlers`` does anything: train.py's loop is its own).

Every tool run appends one JSON line (argv, pid, the loaded config's key values) to the file named
by ``FAKE_PADDLEOCR_RECORD``. ``FAKE_EPOCH_SECONDS`` slows epochs down for stop tests.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

REC_CONFIG = """\
Global:
  model_name: PP-OCRv5_mobile_rec
  debug: false
  use_gpu: true
  epoch_num: 75
  log_smooth_window: 20
  print_batch_step: 10
  save_model_dir: ./output/PP-OCRv5_mobile_rec
  save_epoch_step: 10
  eval_batch_step: [0, 2000]
  cal_metric_during_train: true
  pretrained_model:
  checkpoints:
  save_inference_dir:
  character_dict_path: ./ppocr/utils/dict/ppocrv5_dict.txt
  max_text_length: &max_text_length 25
  use_space_char: true
  distributed: true
  d2s_train_image_shape: [3, 48, 320]
Optimizer:
  name: Adam
  lr:
    name: Cosine
    learning_rate: 0.0005
    warmup_epoch: 5
  regularizer:
    name: L2
    factor: 3.0e-05
Architecture:
  model_type: rec
  algorithm: SVTR_LCNet
  Backbone:
    name: PPLCNetV3
  Head:
    name: MultiHead
    head_list:
      - CTCHead:
          Head:
            fc_decay: 1.0e-05
      - NRTRHead:
          nrtr_dim: 384
          max_text_length: *max_text_length
Loss:
  name: MultiLoss
PostProcess:
  name: CTCLabelDecode
Metric:
  name: RecMetric
  main_indicator: acc
Train:
  dataset:
    name: MultiScaleDataSet
    data_dir: ./train_data/
    label_file_list:
      - ./train_data/train_list.txt
    transforms:
      - DecodeImage:
          img_mode: BGR
      - RecConAug:
          prob: 0.5
          image_shape: [48, 320, 3]
          max_text_length: *max_text_length
      - RecAug:
      - KeepKeys:
          keep_keys: [image, label_ctc, label_gtc, length, valid_ratio]
  sampler:
    name: MultiScaleSampler
    scales: [[320, 32], [320, 48], [320, 64]]
    first_bs: &bs 128
  loader:
    shuffle: true
    batch_size_per_card: *bs
    drop_last: true
    num_workers: 8
Eval:
  dataset:
    name: SimpleDataSet
    data_dir: ./train_data
    label_file_list:
      - ./train_data/val_list.txt
    transforms:
      - DecodeImage:
          img_mode: BGR
      - RecResizeImg:
          image_shape: [3, 48, 320]
  loader:
    shuffle: false
    batch_size_per_card: 128
    num_workers: 4
"""

DET_CONFIG = """\
Global:
  model_name: PP-OCRv5_mobile_det
  use_gpu: true
  epoch_num: &epoch_num 500
  print_batch_step: 100
  save_model_dir: ./output/PP-OCRv5_mobile_det
  save_epoch_step: 10
  eval_batch_step: [0, 1500]
  pretrained_model: https://paddleocr.bj.bcebos.com/pretrained/PPLCNetV3_x0_75_ocr_det.pdparams
  checkpoints:
Architecture:
  model_type: det
  algorithm: DB
  Backbone:
    name: PPLCNetV3
    scale: 0.75
Optimizer:
  name: Adam
  lr:
    name: Cosine
    learning_rate: 0.001 #(8*8c)
PostProcess:
  name: DBPostProcess
  thresh: 0.3
  box_thresh: 0.6
  unclip_ratio: 1.5
Metric:
  name: DetMetric
  main_indicator: hmean
Train:
  dataset:
    name: SimpleDataSet
    data_dir: ./train_data/icdar2015/text_localization/
    label_file_list:
      - ./train_data/icdar2015/text_localization/train_icdar2015_label.txt
    transforms:
      - DecodeImage:
          img_mode: BGR
      - DetLabelEncode:
      - MakeBorderMap:
          shrink_ratio: 0.4
          total_epoch: *epoch_num
      - MakeShrinkMap:
          min_text_size: 8
          total_epoch: *epoch_num
  loader:
    shuffle: true
    batch_size_per_card: 8
    num_workers: 8
Eval:
  dataset:
    name: SimpleDataSet
    data_dir: ./train_data/icdar2015/text_localization/
    label_file_list:
      - ./train_data/icdar2015/text_localization/test_icdar2015_label.txt
    transforms:
      - DecodeImage:
          img_mode: BGR
      - DetResizeForTest:
  loader:
    batch_size_per_card: 1
    num_workers: 2
"""

_COMMON = '''
import argparse, json, os, pickle, signal, sys, time
import yaml


def load_config():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config")
    parser.add_argument("-o", "--opt", nargs="+")
    args = parser.parse_args()
    assert args.config and args.config.endswith((".yml", ".yaml")), "config must be a .yml"
    config = yaml.load(open(args.config, "rb"), Loader=yaml.Loader)
    for token in args.opt or []:
        key, value = token.split("=")
        parts = key.split(".")
        assert parts[0] in config, "first key must exist: " + key
        node = config
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = yaml.load(value, Loader=yaml.Loader)
    record = os.environ.get("FAKE_PADDLEOCR_RECORD")
    if record:
        with open(record, "a") as handle:
            handle.write(json.dumps({"tool": os.path.basename(sys.argv[0]), "argv": sys.argv, "pid": os.getpid(),
                                     "pgid": os.getpgrp(), "Global": config["Global"]}, default=str) + "\\n")
    return config


def log(line, log_file=None):
    line = time.strftime("[%Y/%m/%d %H:%M:%S] ppocr INFO: ") + line
    print(line, flush=True)
    if log_file:
        with open(log_file, "a") as handle:
            handle.write(line + "\\n")
'''

_TRAIN = '''
def save(prefix, payload):
    # save_model's order: optimizer, weights, then the metadata pickle last
    with open(prefix + ".pdopt", "wb") as handle:
        handle.write(b"opt" * 100)
    with open(prefix + ".pdparams", "wb") as handle:
        handle.write(b"params" * 100)
    with open(prefix + ".states", "wb") as handle:
        pickle.dump(payload, handle, protocol=2)


def main():
    config = load_config()
    g = config["Global"]
    out = g["save_model_dir"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.yml"), "w") as handle:
        yaml.safe_dump(config, handle)
    log_file = os.path.join(out, "train.log")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ppocr.data import set_signal_handlers

    set_signal_handlers()
    labels = config["Train"]["dataset"]["label_file_list"][0]
    if not open(labels).read().strip():
        log("No Images in train dataset, please ensure", log_file)
        return
    start_epoch, best = 1, {"acc": 0}
    if g.get("checkpoints"):
        with open(g["checkpoints"] + ".states", "rb") as handle:
            states = pickle.load(handle)
        start_epoch = states["epoch"] + 1
        best = dict(states.get("best_model_dict", {}), acc=0.0)
        log("resume from " + g["checkpoints"], log_file)
    elif g.get("pretrained_model"):
        log("load pretrain successful from " + str(g["pretrained_model"]), log_file)
    epochs = g["epoch_num"]
    delay = float(os.environ.get("FAKE_EPOCH_SECONDS", "0"))
    task = config["Architecture"]["model_type"]
    metric = "acc" if task == "rec" else "hmean"
    global_step = 0
    for epoch in range(start_epoch, epochs + 1):
        for _ in range(2):
            global_step += 1
            eta = "1 day, 2:03:04" if epoch == 1 else "0:00:%02d" % (epochs - epoch)
            loss = 1.0 / (epoch + 1)
            stats = "lr: 0.000500, acc: %.6f, norm_edit_dis: 0.500000, CTCLoss: %.6f, NRTRLoss: 0.100000, loss: %.6f" % (
                epoch / epochs, loss, loss)
            log("epoch: [%d/%d], global_step: %d, %s, avg_reader_cost: 0.01000 s, avg_batch_cost: 0.20000 s, "
                "avg_samples: 16.0, ips: 80.00000 samples/s, eta: %s, max_mem_reserved: 1234 MB, "
                "max_mem_allocated: 1000 MB" % (epoch, epochs, global_step, stats, eta), log_file)
        value = round(epoch / epochs, 4)
        if task == "rec":
            log("cur metric, acc: %s, norm_edit_dis: 0.9, fps: 100.0" % value, log_file)
        else:
            log("cur metric, precision: 0.9, recall: 0.8, hmean: %s, fps: 10.0" % value, log_file)
        if value >= best.get(metric, 0):
            best.update({metric: value, "best_epoch": epoch})
            save(os.path.join(out, "best_accuracy"), {"best_model_dict": best, "epoch": epoch,
                                                     "global_step": global_step})
        log("best metric, " + ", ".join("%s: %s" % kv for kv in best.items()), log_file)
        time.sleep(delay)
        save(os.path.join(out, "latest"), {"best_model_dict": best, "epoch": epoch, "global_step": global_step})
        log("save model in " + os.path.join(out, "latest"), log_file)


main()
'''

_EXPORT = '''
def main():
    config = load_config()
    g = config["Global"]
    source = g["pretrained_model"] or g["checkpoints"]
    assert os.path.exists(source + ".pdparams"), source + ".pdparams does not exists!"
    out = g["save_inference_dir"]
    os.makedirs(out, exist_ok=True)
    name = os.environ.get("FAKE_EXPORT_MODEL_NAME", g["model_name"])
    graph = "inference.json" if g.get("export_with_pir") else "inference.pdmodel"
    open(os.path.join(out, graph), "w").write("{}")
    open(os.path.join(out, "inference.pdiparams"), "wb").write(open(source + ".pdparams", "rb").read())
    characters = [line.rstrip("\\n") for line in open(g["character_dict_path"], encoding="utf-8")]
    yaml.safe_dump({"Global": {"model_name": name}, "PostProcess": {"name": "CTCLabelDecode",
                   "character_dict": characters}}, open(os.path.join(out, "inference.yml"), "w"))
    log("inference model is saved to " + out)


main()
'''

_EVAL = '''
def main():
    config = load_config()
    assert os.path.exists(config["Global"]["checkpoints"] + ".pdparams")
    log("metric in ckpt ***************")
    log("hmean:0.1")
    log("metric eval ***************")
    log("precision:0.875")
    log("recall:0.7")
    log("hmean:0.7777777777777778")
    log("fps:12.5")


main()
'''


# The modules our launcher wraps; this train.py calls only set_signal_handlers.
_PPOCR_DATA = '''
import os, signal


def set_signal_handlers():
    if os.getpgrp() == os.getpid():
        signal.signal(signal.SIGTERM, lambda *_: os.killpg(os.getpgrp(), signal.SIGKILL))


def build_dataloader(*args, **kwargs):
    raise NotImplementedError
'''

_SAVE_LOAD = '''
def load_pretrained_params(model, path):
    raise NotImplementedError
'''

_PROGRAM = '''
from ppocr.data import build_dataloader


def train(*args, **kwargs):
    raise NotImplementedError
'''


def make_checkout(root: Path) -> Path:
    root = Path(root)
    for relative, text in (
        ("ppocr/__init__.py", ""),
        ("ppocr/data/__init__.py", _PPOCR_DATA),
        ("ppocr/utils/__init__.py", ""),
        ("ppocr/utils/save_load.py", _SAVE_LOAD),
        ("tools/__init__.py", ""),
        ("tools/program.py", _PROGRAM),
        ("configs/rec/PP-OCRv5/PP-OCRv5_mobile_rec.yml", REC_CONFIG),
        ("configs/det/PP-OCRv5/PP-OCRv5_mobile_det.yml", DET_CONFIG),
        ("tools/train.py", _COMMON + _TRAIN),
        ("tools/export_model.py", _COMMON + _EXPORT),
        ("tools/eval.py", _COMMON + _EVAL),
    ):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def read_record(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
