#!/bin/bash
# First-boot set-up of a Batch container instance: the shell part of the launch template's user data,
# run by cloud-init before the ECS agent starts (the cloud-config part writes and starts the Spot notice
# watcher and sets the ECS agent's stop timeout).
set -euo pipefail

# Jobs run in the host's network namespace, where IMDS's hop limit does not apply, so only root (the
# ECS agent, the watcher, cloud-init) may reach the metadata service; the trainer runs as uid 1000.
# The job role's credentials come from the ECS endpoint 169.254.170.2, which this rule leaves alone.
iptables --insert OUTPUT --destination 169.254.169.254/32 \
  --match owner ! --uid-owner 0 --jump REJECT
