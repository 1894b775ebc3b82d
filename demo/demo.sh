#!/usr/bin/env bash
# The battlestations flow, unattended, on the embedded defaults (local forge).
# Run through `make demo`, which puts `bs` on PATH. Everything lives in .demo/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO="${BS_DEMO_DIR:-$ROOT/.demo}"
FORGE="$DEMO/forge"
export GIT_CONFIG_GLOBAL="$DEMO/gitconfig" GIT_CONFIG_NOSYSTEM=1
bold="" dim="" reset=""
if [ -t 1 ]; then bold=$(tput bold 2>/dev/null || true); dim=$(tput dim 2>/dev/null || true); reset=$(tput sgr0 2>/dev/null || true); fi

say() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$reset"; }
note() { printf '%s%s%s\n' "$dim" "$*" "$reset"; }
# Show a command as a newcomer would type it, then run it.
run() { printf '%s$ %s%s\n' "$bold" "$*" "$reset"; (eval "$@") 2>&1; }
# The same, for a command that must be refused.
refused() {
  printf '%s$ %s%s\n' "$bold" "$*" "$reset"
  if (eval "$@") 2>&1; then echo "demo: expected that to be refused" >&2; exit 1; fi
  note "(refused, exit status non-zero, as it should be)"
}
# The same, for a command whose exit status says something (bs check: 1 pending, 2 rejected).
expect_status() {
  local want=$1; shift
  printf '%s$ %s%s\n' "$bold" "$*" "$reset"
  local got=0
  (eval "$@") 2>&1 || got=$?
  if [ "$got" != "$want" ]; then echo "demo: expected exit status $want, got $got" >&2; exit 1; fi
  note "(exit status $got)"
}

PORT="${BS_DEMO_PORT:-8421}"
rm -rf "$DEMO"
mkdir -p "$FORGE/alphagov" "$DEMO/seed"
git config --file "$GIT_CONFIG_GLOBAL" init.defaultBranch main
git config --file "$GIT_CONFIG_GLOBAL" advice.detachedHead false
git config --file "$GIT_CONFIG_GLOBAL" user.name "Dev"
git config --file "$GIT_CONFIG_GLOBAL" user.email dev@example.gov.uk

say "1. A local forge: bare repositories, users and teams in one folder"
cat > "$FORGE/users.yaml" <<'YAML'
alice: alice@example.gov.uk     # a developer who may not deploy
erin: erin@example.gov.uk       # another developer
bob: bob@example.gov.uk         # a deployer
carol: carol@example.gov.uk     # another deployer
dave: dave@example.gov.uk       # a DBA
release-bot: releases@example.gov.uk  # who the hooks run as (on GitHub: bs's GitHub App)
YAML
cat > "$FORGE/teams.yaml" <<'YAML'
alphagov/developers: [alice, erin]
alphagov/deployers: [bob, carol]
alphagov/dba: [dave]
alphagov/on-call: [carol]
YAML
note "users.yaml: alice and erin (developers), bob and carol (deployers), dave (DBA), release-bot; teams.yaml: the teams (carol is also on call, for emergencies)"

# An app repository with a few releases, built the way a real one grows.
commit() { git -C "$1" add -A && git -C "$1" commit -q -m "$2"; }
app="$DEMO/seed/frontend"
git init -q "$app"
mkdir -p "$app/app/views" "$app/public"
printf 'source "https://rubygems.org"\ngem "rails"\n' > "$app/Gemfile"
printf '<h1>GOV.UK</h1>\n' > "$app/app/views/index.html.erb"
commit "$app" "First version"; git -C "$app" tag release_1
printf '<h1>GOV.UK</h1>\n<p>Welcome</p>\n' > "$app/app/views/index.html.erb"
commit "$app" "Add a welcome"; git -C "$app" tag -a release_2 -m "Release 2"
head -c 2048 /dev/urandom > "$app/public/logo.png"
git -C "$app" mv Gemfile Gemfile.rails
printf '<h1>GOV.UK</h1>\n<p>Welcome to GOV.UK</p>\n<div class="cookie-banner"></div>\n' > "$app/app/views/index.html.erb"
commit "$app" "Cookie banner and a new logo"; git -C "$app" tag release_3
printf 'body { color: #0b0c0c; }\n' > "$app/public/app.css"
commit "$app" "Styles"; git -C "$app" tag release_4
printf '<h1>GOV.UK</h1>\n<p>Welcome to GOV.UK</p>\n<div class="cookie-banner" hidden></div>\n' > "$app/app/views/index.html.erb"
commit "$app" "Hide the cookie banner until consent loads"; git -C "$app" tag release_5
git -C "$app" tag not-a-release
git clone -q --bare "$app" "$FORGE/alphagov/frontend.git"
git -C "$FORGE/alphagov/frontend.git" branch deployed-to-production release_2
note "alphagov/frontend: tags release_1..release_5 (and not-a-release); deployed-to-production is at release_2"

api="$DEMO/seed/publishing-api"
git init -q "$api"
echo "v1" > "$api/VERSION"; commit "$api" "1.0.0"; git -C "$api" tag v1.0.0
echo "v1.1-rc" > "$api/VERSION"; commit "$api" "1.1.0-rc.1"; git -C "$api" tag v1.1.0-rc.1
echo "v1.1" > "$api/VERSION"; mkdir -p "$api/db/migrate"
printf 'class AddIndexToEditions < ActiveRecord::Migration[7.1]\nend\n' > "$api/db/migrate/20261125_add_index_to_editions.rb"
commit "$api" "1.1.0"; git -C "$api" tag v1.1.0
git clone -q --bare "$api" "$FORGE/alphagov/publishing-api.git"
note "alphagov/publishing-api: semver tags v1.0.0, v1.1.0-rc.1, v1.1.0 (with a database migration); nothing deployed yet"

# The requests repository: this project's own bs.yaml and policies.
requests="$DEMO/seed/release-requests"
git init -q "$requests"
mkdir -p "$requests/policies" "$requests/requests"
cp -r "$ROOT/policies/." "$requests/policies/"
cp -r "$ROOT/deploy" "$requests/deploy"
touch "$requests/requests/.keep"
cat > "$requests/bs.yaml" <<YAML
version: 1
forge: {kind: local, path: ../forge}
requests_repo: alphagov/release-requests
mail:
  kind: outbox                    # each message an .eml file; kind: smtp for a real server
  path: ../outbox
  from: "GOV.UK releases <releases@example.gov.uk>"
gateway:
  url: http://127.0.0.1:$PORT      # bs serve; deploy links start with it
  store: sqlite:///../gateway.sqlite
YAML
commit "$requests" "Requests repository"
git clone -q --bare "$requests" "$FORGE/alphagov/release-requests.git"
git clone -q "$FORGE/alphagov/release-requests.git" "$DEMO/release-requests"
cd "$DEMO/release-requests"
note "alphagov/release-requests: bs.yaml and policies/ (apps.yaml, standard.yaml, tests/); alice works in a checkout of it"

say "The approval policy, on the default branch: what bs check enforces"
sed -n '/^approval:/,$p' policies/standard.yaml | grep -v '^ *#'
run bs policy validate
run bs policy test

say "2. alice looks at what she may release"
export BS_USER=alice
run bs apps
run bs tags frontend

say "3. Things bs refuses"
refused bs open-request frontend release_1
refused bs open-request frontend release_2
refused bs open-request frontend not-a-release
refused bs open-request frontend release_9
refused bs open-request frontendd release_3

say "4. A dry run first: the patch and request are computed, nothing is pushed"
run "bs open-request frontend release_3 --dry-run --json > '$DEMO/dry-run.json'"
cat "$DEMO/dry-run.json"
rm -rf "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dry_run_dir"])' "$DEMO/dry-run.json")"

say "5. alice asks for frontend release_3"
run bs open-request frontend release_3 --reason "'Ship the cookie banner before the campaign'"
branch=$(git -C "$FORGE/alphagov/release-requests.git" for-each-ref --format='%(refname:strip=2)' 'refs/heads/request/frontend/*' | head -1)
id=${branch##*/}
note "The pull request's branch $branch holds two files; the request:"
run git -C "$FORGE/alphagov/release-requests.git" show "$branch:requests/frontend/$id.yaml"
note "and the complete patch (first lines):"
git -C "$FORGE/alphagov/release-requests.git" show "$branch:requests/frontend/$id.patch" | head -12
note "Anyone can check the digest against git itself:"
run "git -C '$FORGE/alphagov/frontend.git' diff --binary --full-index release_2 release_3 | sha256sum"

say "The opened hook emails the app's review list (on GitHub, a workflow runs it)"
note "Hooks run as release-bot. Mail goes to the outbox folder here (mail.kind: outbox in bs.yaml)."
run BS_USER=release-bot bs hook opened 1
run bs mail show

say "6. The check: the policy says what is missing"
expect_status 1 bs check 1
refused BS_USER=bob bs merge 1
note "The status bs/policy is pending, so the merge is refused, as a GitHub ruleset would."

say "7. Reviews: only eligible approvals of the head commit count"
refused bs review 1 --approve
run BS_USER=erin bs review 1 --approve -m "'LGTM'"
run BS_USER=carol bs review 1 --comment -m "'Is the banner copy signed off?'"
expect_status 1 bs check 1
note "erin is not a deployer: her approval is ignored, and the check says why."
run BS_USER=bob bs review 1 --approve -m "'Signed off by content design'"
expect_status 0 bs check 1
run BS_USER=bob bs merge 1

say "8. The merge hook re-checks the policy itself, records the approval and mails alice her deploy link"
note "Deploy links are signed with a key from the environment, never from the repository:"
printf '%s$ %s%s\n' "$bold" 'export BS_LINK_KEYS="$(bs keys generate --id demo)"' "$reset"
export BS_LINK_KEYS="$(bs keys generate --id demo)"
run BS_USER=release-bot bs hook closed 1
note "alice's mail, from the outbox: the link works once, for her, until her slot ends."
run bs mail show
note "The pull request's records (append-only, beside the bare repository), with the approval comment:"
cat "$FORGE/alphagov/release-requests.forge/pulls/1.jsonl"

say "9. A first deploy of another app, with a database migration: it also needs a DBA, who rejects it"
run bs tags publishing-api
run bs open-request publishing-api v1.1.0 --reason "'First production deploy'"
run BS_USER=bob bs review 2 --approve
expect_status 1 bs check 2 --summary "'$DEMO/summary.md'"
note "The same explanation as markdown, for a GitHub Actions job summary ($DEMO/summary.md):"
cat "$DEMO/summary.md"
run BS_USER=dave bs review 2 --request-changes -m "'Add the index concurrently'"
expect_status 2 bs check 2
note "An eligible reviewer's change request is a rejection: the hook removes the request and tells alice."
run BS_USER=release-bot bs hook closed 2
run bs mail show

say "10. An admin can bypass the check, as on GitHub; the merge hook mints no link for it"
run bs open-request frontend release_4 --reason "'Styles'"
expect_status 1 bs check 3
refused BS_USER=bob bs merge 3
run BS_USER=bob bs merge 3 --admin
expect_status 2 BS_USER=release-bot bs hook closed 3
note "alice and the review list are told why; the pull request says so too."
run bs mail show
run bs mail list

say "11. alice deploys frontend release_3 through the gateway, with her link"
note "The gateway (bs serve) holds the deploy credentials; alice never does. On this machine it"
note "offers a local sign-in (pick a user of the local forge); anywhere else, GitHub's."
if [ "${BS_DEMO_SERVE:-}" = 1 ]; then
  link=$(python3 - "$DEMO/outbox" <<'PY'
import email, email.policy, pathlib, re, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.eml"), reverse=True):
    body = email.message_from_bytes(path.read_bytes(), policy=email.policy.default).get_body(("plain",))
    found = re.search(r"http://\S+/link/\S+", body.get_content() if body else "")
    if found:
        print(found.group(0)); break
PY
)
  note "The gateway stays running for you. In a browser on this machine:"
  printf '\n  1. open alice'"'"'s deploy link (from her mail):\n     %s\n' "$link"
  printf '  2. sign in as alice (the local sign-in lists the forge'"'"'s users)\n'
  printf '  3. press "Open the deployment", then "Deploy", and watch the log\n'
  printf '  The home page, http://127.0.0.1:%s/, shows apps, requests and deployments. Ctrl-C stops it.\n\n' "$PORT"
  exec bs serve --port "$PORT"
fi
note "It acts on the forge as release-bot (on GitHub: the App), to move the deployed version."
printf '%s$ %s%s\n' "$bold" "BS_USER=release-bot bs serve --port $PORT &" "$reset"
BS_USER=release-bot bs serve --port "$PORT" 2> "$DEMO/gateway.log" &
gateway=$!
trap 'kill $gateway 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
run curl -s "http://127.0.0.1:$PORT/healthz"
echo
note "alice's browser, driven over HTTP (demo/drive_gateway.py):"
run python3 "$ROOT/demo/drive_gateway.py" --gateway "http://127.0.0.1:$PORT" --outbox "$DEMO/outbox" --user alice --address alice@example.gov.uk
note "The deployed version moved: the next request starts from release_3."
run bs tags frontend
note "alice, bob (who approved) are told the outcome:"
run bs mail show

say "12. An emergency: release_3's cookie banner hides the page on small screens"
note "The policy's emergency rule: the engineer on call (carol) approves alone; the slot is 30 minutes"
note "from the merge and no window or freeze holds it back. A reason is required."
refused bs open-request frontend release_5 --emergency
run bs open-request frontend release_5 --emergency --reason "'The cookie banner hides the page on phones'"
run BS_USER=release-bot bs hook opened 4
note "The review list is told it is an emergency; only the on-call team is asked to review:"
bs mail list | tail -1
expect_status 1 bs check 4
run BS_USER=carol bs review 4 --approve -m "'On call: ship it'"
expect_status 0 bs check 4
run BS_USER=carol bs merge 4
run BS_USER=release-bot bs hook closed 4
note "alice deploys it; the gateway then opens a follow-up request under the normal rules:"
run python3 "$ROOT/demo/drive_gateway.py" --gateway "http://127.0.0.1:$PORT" --outbox "$DEMO/outbox" --user alice --address alice@example.gov.uk
run bs status frontend
note "The follow-up is reviewed like any release; its merge records the review and mints nothing."
run BS_USER=release-bot bs hook opened 5
run BS_USER=bob bs review 5 --approve -m "'Reviewed after the fact: fine'"
expect_status 0 bs check 5
run BS_USER=bob bs merge 5
run BS_USER=release-bot bs hook closed 5

say "13. A rollback: release_5 slows the home page; alice goes back to release_3"
refused bs open-request frontend release_3
run bs open-request frontend release_3 --rollback --reason "'release_5 slows the home page'"
note "The patch is the reverse diff, deployed -> release_3: it takes out what release_5 brought in."
run "git -C '$FORGE/alphagov/frontend.git' diff --binary --full-index release_5 release_3 | head -12"
run BS_USER=release-bot bs hook opened 6
run BS_USER=bob bs review 6 --approve
expect_status 0 bs check 6
run BS_USER=bob bs merge 6
run BS_USER=release-bot bs hook closed 6
run python3 "$ROOT/demo/drive_gateway.py" --gateway "http://127.0.0.1:$PORT" --outbox "$DEMO/outbox" --user alice --address alice@example.gov.uk
run bs tags frontend --limit 3
note "The gateway's own log names no link and no token:"
sed 's/^/  /' "$DEMO/gateway.log" | grep -v "^  $" | tail -8
kill "$gateway"; wait "$gateway" 2>/dev/null || true

say "14. Where things stand, and the audit trail that proves what ran"
run bs status
run bs audit

say "Done"
note "Everything is in .demo/; run bs there yourself: cd .demo/release-requests && BS_USER=alice bs --help"
note "To click through a deploy yourself: bs demo --serve (leaves the gateway running)."
