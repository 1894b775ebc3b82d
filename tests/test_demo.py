"""`make demo`'s script runs unattended, end to end, and shows each step."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_the_flow(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["BS_DEMO_DIR"] = str(tmp_path / "demo")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("BS_USER", None)
    with socket.socket() as probe:  # a free port for the demo's gateway
        probe.bind(("127.0.0.1", 0))
        env["BS_DEMO_PORT"] = str(probe.getsockname()[1])
    result = subprocess.run(
        ["bash", str(ROOT / "demo" / "demo.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "$ bs tags frontend" in out
    assert "release_3" in out and "newer" in out
    assert "Opened pull request #1" in out
    assert "bob approved #1" in out
    assert "you cannot review your own request" in out
    assert out.count("(refused, exit status non-zero, as it should be)") == 10
    assert "bob merged #3 as an admin, bypassing bs/policy" in out
    # The check explains itself at each step: pending, an ignored approval, met, rejected.
    assert "bs/policy: not met yet: Needs 1 more approval from alphagov/deployers" in out
    assert "ignored: erin: not in alphagov/deployers" in out
    assert "bs/policy: met: Approved by bob\n" in out
    assert "bs merge 1\nbs: error: #1 cannot be merged: bs/policy is pending" in out
    assert "bob merged #1" in out
    assert (
        "Needs 1 more approval from alphagov/dba: db/migrate/20261125_add_index_to_editions.rb changed"
        in out
    )
    assert "bs/policy: rejected: Rejected by dave: Add the index concurrently" in out
    # The hooks: the review list's mail with the patch, alice's deploy link, the
    # rejection removed with dave's comment, the admin merge refused.
    assert "Emailed the review list of frontend about #1, with the patch attached" in out
    assert "[attached: " in out and ".patch, text/x-diff" in out
    assert "Approval recorded for #1: frontend request" in out
    assert "  approved by: bob at " in out
    links = re.findall(r"http://127\.0\.0\.1:\d+/link/(bs1\.demo\.[A-Za-z0-9_.-]+)", out)
    assert len(links) == 1, "exactly one link, in alice's mail; the hook never prints it"
    assert "Request #2 rejected by dave." in out and "  > Add the index concurrently" in out
    assert "Deleted branch request/publishing-api/" in out
    assert "was merged, but its policy is not met: no deploy link minted" in out
    assert "[frontend] No deploy link: #3 merged without approval" in out
    assert "16 passed, 0 failed" in out
    # The gateway: alice deploys release_3 with her link, over HTTP; the link is then spent.
    assert "'Deploy link' (nothing is spent by opening it)" in out
    assert "back on the link: 'Deploy frontend?'" in out
    assert "now at /deployments/1: 'Deployment #1: frontend'" in out
    assert "| frontend release_3 is live" in out
    assert "result: succeeded: the command exited with status 0" in out
    assert "the same link again: 403 'This link cannot be used'" in out
    assert "frontend: deployed release_3" in out
    assert "Subject: [frontend] Deployed: release_3" in out
    assert re.search(r"/link/\[redacted\]", out)
    assert "Traceback" not in out + result.stderr
    # An emergency: on call approves, it deploys, and the gateway opens its follow-up.
    assert "[frontend] EMERGENCY request #4: release_3 -> release_5 by alice" in out
    assert "bs/policy: not met yet: Needs 1 more approval from alphagov/on-call" in out
    assert "EMERGENCY: follow-up review opened, under the normal rules: pull request #5" in out
    assert "Emergency deploys whose follow-up review is not approved yet" in out
    assert "Follow-up #5 approved: emergency request " in out
    # A rollback, deployed: release_3 again.
    assert "Rollback request " in out and "frontend release_5 -> release_3" in out
    assert "frontend: deployed release_3" in out.rsplit("== 13.", 1)[1]
    # The audit trail ends intact.
    assert "chain intact: 5 requests, 3 deployments checked" in out.rsplit("== 14.", 1)[1]
    # The digest bs recorded equals git's own, as the transcript shows.
    request_lines = [line for line in out.splitlines() if line.startswith("  sha256: ")]
    sha_lines = [line for line in out.splitlines() if line.endswith("  -")]
    assert request_lines and sha_lines
    assert request_lines[0].split()[-1] == sha_lines[0].split()[0]
