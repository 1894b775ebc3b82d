"""``bs merge PR`` on the local forge: merge as a GitHub ruleset would allow.

The ruleset requires the ``bs/policy`` status to be success on the head
commit; ``--admin`` bypasses it, as an admin can on GitHub. The merge hook
(a later checkpoint) re-evaluates and refuses to mint a link for such a merge.
"""

from __future__ import annotations

from bs.core.pulls import PullRequest
from bs.core.verdict import STATUS_CONTEXT
from bs.errors import BsError
from bs.ports import Forge


def merge_request(forge: Forge, repo: str, number: int, *, admin: bool) -> PullRequest:
    pull = forge.get_pull_request(repo, number)
    if pull.state != "open":
        raise BsError(
            f"pull request #{number} is {'merged' if pull.merged else 'closed'}: nothing to merge."
        )
    if not admin:
        latest = next(
            (s for s in forge.list_statuses(repo, pull.head_sha) if s.context == STATUS_CONTEXT),
            None,
        )
        if latest is None:
            raise BsError(
                f"#{number} cannot be merged: the required status {STATUS_CONTEXT} has not been posted on "
                f"{pull.head_sha[:12]}: run `bs check {number}`."
            )
        if latest.state != "success":
            raise BsError(
                f"#{number} cannot be merged: {STATUS_CONTEXT} is {latest.state} on {pull.head_sha[:12]} "
                f"({latest.description}). Run `bs check {number}` to see why."
            )
    # The head the status was read on: a push since then must not slip through.
    return forge.merge_pull_request(repo, number, sha=pull.head_sha)
