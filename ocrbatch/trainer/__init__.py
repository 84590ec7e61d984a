"""The trainer that runs inside the training image (and as a local process in local mode)."""
