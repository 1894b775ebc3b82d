"""The pull request's title and body: what a reviewer reads first."""

from __future__ import annotations

from pathlib import Path

from bs import gitcmd
from bs.core.request import ReleaseRequest
from bs.core.words import count_noun
from bs.patchfile import PatchResult

MAX_LISTED_COMMITS = 50
MAX_LISTED_FILES = 100


def pull_request_title(request: ReleaseRequest) -> str:
    """``Release frontend release_43 (from release_42)``; ``EMERGENCY release …``,
    ``Rollback frontend to release_41 (from release_42)``, ``Follow-up review: …``."""
    if request.from_ is None:
        since = "first deploy"
    else:
        since = f"from {request.from_.tag or request.from_.commit[:12]}"
    to = request.to.tag or request.to.commit[:12]
    if request.follow_up_of is not None:
        what = f"rollback of {request.app} to" if request.rollback else f"release of {request.app}"
        return f"Follow-up review: emergency {what} {to} ({since})"
    if request.rollback:
        title = f"Rollback {request.app} to {to} ({since})"
        return f"EMERGENCY {title[0].lower()}{title[1:]}" if request.emergency else title
    title = f"Release {request.app} {to} ({since})"
    return f"EMERGENCY {title[0].lower()}{title[1:]}" if request.emergency else title


def kind_notice(request: ReleaseRequest) -> str:
    """What a reader must know first about an unusual request; empty for a release."""
    if request.follow_up_of is not None:
        return (
            f"Follow-up review of emergency request {request.follow_up_of}, which was deployed "
            "under the policy's emergency rule. It needs the normal rules now; merging it mints "
            "no deploy link."
        )
    parts = []
    if request.emergency:
        parts.append(
            "EMERGENCY (break-glass): the policy's emergency rule applies, with its short "
            "deploy slot. Once deployed, bs opens a follow-up request that needs the normal rules."
        )
    if request.rollback:
        parts.append(
            "ROLLBACK: back to an older release. The patch is the reverse diff: it takes out "
            "what the deployed release brought in."
        )
    return " ".join(parts)


def pull_request_body(request: ReleaseRequest, git_dir: Path, patch: PatchResult) -> str:
    from_commit = request.from_.commit if request.from_ else None
    stats = request.patch
    notice = kind_notice(request)
    lines = [
        *([f"> [!WARNING]\n> {notice}", ""] if notice else []),
        f"**{request.requested_by}** asks to {'roll back' if request.rollback else 'release'} "
        f"**{request.app}** to {request.environment}.",
        "",
        "| | tag | commit |",
        "|---|---|---|",
        f"| deployed | {_tag(request.from_.tag) if request.from_ else '(nothing yet)'} | "
        f"{request.from_.commit if request.from_ else ''} |",
        f"| requested | {_tag(request.to.tag)} | {request.to.commit} |",
        "",
        f"{count_noun(stats.commits, 'commit')}{' undone' if request.rollback else ''}, "
        f"{count_noun(stats.files_changed, 'file')} changed, "
        f"+{stats.insertions:,} −{stats.deletions:,}.",
        "",
        f"Patch: `{stats.file}`, SHA-256 `{stats.sha256}` over "
        f"{patch.size:,} bytes of `git diff --binary --full-index`.",
    ]
    if patch.compressed:
        lines.append(
            f"The patch is large, so it is stored gzip-compressed ({patch.stored_size:,} bytes); "
            "the digest is over the uncompressed patch."
        )
    if request.reason:
        lines += [
            "",
            "Reason:",
            "",
            *(f"> {_escape(line)}" for line in request.reason.splitlines()),
        ]
    heading = "Commits taken out" if request.rollback else "Commits"
    lines += ["", f"<details><summary>{heading}</summary>", ""]
    # A rollback lists the commits it takes out: those of FROM not in TO.
    newer, older = (
        (from_commit, request.to.commit) if request.rollback else (request.to.commit, from_commit)
    )
    log = gitcmd.run(
        git_dir, "log", f"--max-count={MAX_LISTED_COMMITS}", "--format=- `%h` %s (%an)",
        newer or request.to.commit, *([f"^{older}"] if older else []),
    )  # fmt: skip
    lines += [_escape(line) for line in log.splitlines()]
    if stats.commits > MAX_LISTED_COMMITS:
        lines.append(f"- … and {stats.commits - MAX_LISTED_COMMITS} more")
    lines += ["", "</details>", "", "<details><summary>Files</summary>", ""]
    names = gitcmd.name_status(git_dir, from_commit, request.to.commit)
    lines += [_file_line(word, paths) for word, paths in names[:MAX_LISTED_FILES]]
    if len(names) > MAX_LISTED_FILES:
        lines.append(f"- … and {len(names) - MAX_LISTED_FILES} more")
    lines += ["", "</details>", "", f"Request id `{request.id}`. Opened with `bs open-request`."]
    return "\n".join(lines) + "\n"


def _file_line(word: str, paths: list[str]) -> str:
    """One changed file as a list item."""
    shown = " → ".join(f"`{_code(p)}`" for p in paths)
    return f"- {word} {shown}"


def _code(text: str) -> str:
    # A path inside a code span: a backtick would end the span early.
    return text.replace("`", "'")


def _tag(tag: str | None) -> str:
    return f"`{tag}`" if tag else "(untagged)"


def _escape(text: str) -> str:
    # Commit subjects are user input: keep them from opening HTML or mentions.
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("@", "@\u200b")
