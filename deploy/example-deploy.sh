#!/bin/sh
# An example deploy command for the gateway's `command` deployer (policies/apps.yaml).
# It is run with no shell around it: argv is APP TAG COMMIT. Replace it with your own
# (a script that calls your deploy tooling), or use the jenkins or github-workflow deployer.
set -eu
app=$1 tag=$2 commit=$3
echo "Deploying $app $tag ($commit) to production"
for step in "Fetching $tag" "Running database migrations" "Restarting $app" "Smoke tests"; do
  echo "  $step..."
  sleep "${BS_EXAMPLE_DEPLOY_PAUSE:-0.3}"
done
echo "$app $tag is live"
