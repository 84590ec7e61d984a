#!/bin/bash
# Host watcher for the EC2 Spot interruption notice, started at boot by the launch template's user data.
#
# EC2 announces a Spot reclaim two minutes ahead at IMDS spot/instance-action, but ECS stops only
# service tasks on it, never standalone ones like Batch jobs. So this watcher asks IMDS (as root, which
# keeps IMDS access; jobs do not) every few seconds and, once the notice is there, sends SIGTERM to
# every job container: the trainer checkpoints, uploads and exits 143, which the job definitions retry.
#
# Usage: spot_notice_watcher.sh [COMMAND...]   COMMAND replaces the SIGTERM to the job containers.
# Environment: OCRBATCH_IMDS_ENDPOINT (default http://169.254.169.254), OCRBATCH_NOTICE_POLL_SECONDS (5).
set -uo pipefail

imds=${OCRBATCH_IMDS_ENDPOINT:-http://169.254.169.254}
poll_seconds=${OCRBATCH_NOTICE_POLL_SECONDS:-5}

stop_job_containers() {
  # ECS labels the containers of its tasks; the ECS agent's own container carries no task label.
  docker ps --quiet --filter label=com.amazonaws.ecs.task-arn |
    xargs --no-run-if-empty docker kill --signal TERM
}

spot_notice() {
  local token
  token=$(curl --silent --fail --max-time 2 --request PUT "$imds/latest/api/token" \
    --header "X-aws-ec2-metadata-token-ttl-seconds: 60") || return 1
  # 404 until a reclaim is scheduled; then {"action": "terminate", "time": "..."}.
  curl --silent --fail --max-time 2 --header "X-aws-ec2-metadata-token: $token" \
    "$imds/latest/meta-data/spot/instance-action"
}

while ! notice=$(spot_notice); do
  sleep "$poll_seconds"
done
echo "spot interruption notice: $notice; stopping the job containers"
if [ "$#" -gt 0 ]; then
  "$@"
else
  stop_job_containers
fi
