"""ocrbatch: train PaddleOCR models on AWS Batch (Spot GPUs) or on this machine."""

__version__ = "0.1.0"
