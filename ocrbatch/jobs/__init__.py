"""The job lifecycle (submit, monitor, logs, list, cancel, download) over a pluggable backend."""
