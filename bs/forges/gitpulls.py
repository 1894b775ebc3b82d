"""A pull request's files and commits, from git: the same on every forge.

GitHub's files API stops at 3,000 files and follows the branch; git answers
for the one head commit being judged, complete.
"""

from __future__ import annotations

from pathlib import Path

from bs import gitcmd
from bs.core.pulls import PullFile, PullFileStatus, PullRequest
from bs.errors import BsError

_FILE_STATUS: dict[str, PullFileStatus] = {
    "A": "added", "M": "modified", "D": "removed", "T": "changed", "R": "renamed", "C": "copied",
}  # fmt: skip


def pull_base(
    git_dir: Path, repo: str, pull: PullRequest, head_sha: str, branch_sha: str | None
) -> str:
    """Where `pull`'s branch (at `head_sha`) left its base: after a merge, the base as it
    was before (the merge commit's first parent); before it, the base branch now
    (`branch_sha`, None when it does not exist)."""
    if pull.merged and pull.merge_commit_sha:
        branch_sha = gitcmd.run(git_dir, "rev-parse", f"{pull.merge_commit_sha}^1")
    if branch_sha is None:
        raise BsError(f"{repo} has no base branch '{pull.base}'.")
    return merge_base(git_dir, branch_sha, head_sha, pull.number, pull.base)


def merge_base(git_dir: Path, base_sha: str, head_sha: str, number: int, base: str) -> str:
    """Where pull request `number`'s branch left `base` (at `base_sha`)."""
    if not gitcmd.succeeds(git_dir, "merge-base", base_sha, head_sha):
        raise BsError(
            f"pull request #{number} shares no history with {base}: its branch was not "
            f"made from {base}; close it and open the request with `bs open-request`."
        )
    return gitcmd.run(git_dir, "merge-base", base_sha, head_sha)


def changed_files(git_dir: Path, base: str, head_sha: str) -> list[PullFile]:
    out = gitcmd.run(git_dir, "diff", "--name-status", "-z", "--no-renames", base, head_sha)
    fields = out.split("\0")
    files: list[PullFile] = []
    for letter, path in zip(fields[0::2], fields[1::2], strict=False):
        if letter:
            files.append(
                PullFile(gitcmd.printable_path(path), _FILE_STATUS.get(letter[0], "changed"))
            )
    return files


def commit_identities(
    git_dir: Path, base: str, head_sha: str
) -> list[tuple[str, str, str, str, str]]:
    """(sha, author email, author name, committer email, committer name) of base..head."""
    out = gitcmd.run(
        git_dir, "log", "-z", "--format=%H%x00%ae%x00%an%x00%ce%x00%cn", f"{base}..{head_sha}"
    )
    fields = out.split("\0") if out else []
    rows = []
    for i in range(0, len(fields) - 4, 5):
        sha, a_email, a_name, c_email, c_name = (f.strip() for f in fields[i : i + 5])
        rows.append((sha, a_email, a_name, c_email, c_name))
    return rows
