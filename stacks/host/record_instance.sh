#!/bin/bash
# First-boot record of what this instance is (type, zone, Spot or on-demand) for pricing the job attempts
# that run on it: the job definitions mount the folder read-only and the trainer copies the record into
# its run's progress, since a job may not ask the instance metadata itself (see ocrbatch/host_facts.py).
# A failure here leaves the cost of those attempts unknown, never the instance unusable: it exits 0.
#
# Environment: OCRBATCH_IMDS_ENDPOINT (default http://169.254.169.254),
#              OCRBATCH_HOST_FACTS_DIR (default /var/lib/ocrbatch-host, ocrbatch.host_facts.HOST_DIR).
set -uo pipefail

imds=${OCRBATCH_IMDS_ENDPOINT:-http://169.254.169.254}
facts_dir=${OCRBATCH_HOST_FACTS_DIR:-/var/lib/ocrbatch-host}

if ! token=$(curl --silent --fail --max-time 2 --request PUT "$imds/latest/api/token" \
    --header "X-aws-ec2-metadata-token-ttl-seconds: 60"); then
  echo "record_instance: no instance metadata token; this instance's attempts will not be priced" >&2
  exit 0
fi

meta() {
  curl --silent --fail --max-time 2 --header "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/$1"
}

mkdir -p "$facts_dir"
printf '{"instance_id": "%s", "instance_type": "%s", "availability_zone": "%s", "lifecycle": "%s"}\n' \
  "$(meta instance-id)" "$(meta instance-type)" "$(meta placement/availability-zone)" \
  "$(meta instance-life-cycle)" > "$facts_dir/instance.json.partial"
chmod 0644 "$facts_dir/instance.json.partial"
mv "$facts_dir/instance.json.partial" "$facts_dir/instance.json"
