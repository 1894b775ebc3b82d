"""Where the audit's facts come from: the requests repository's history and pull requests.

Each request file is read as the default branch's first-parent history added
it: one ``git log`` for the whole history, then one ``git cat-file --batch``
for every file's contents. On GitHub the repository is a blobless clone
(``bs.repocache``), where git would fetch each missing file by itself, one
fetch per file: the missing ones are fetched first, in one go. Pull requests
come from one paginated listing, matched to requests by their branch,
``request/<app>/<id>``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import yaml
from pydantic import ValidationError

from bs import gitcmd
from bs.core.audit_facts import MergedRequest
from bs.core.pulls import PullRequest
from bs.core.request import ReleaseRequest, request_branch
from bs.errors import BsError
from bs.ports import Forge
from bs.validation import describe_errors
from bs.yamlio import MAX_YAML_BYTES

#: A request file's path: its app and id.
_PATH = re.compile(r"^requests/([^/]+)/([^/]+)\.yaml$")


@dataclass(frozen=True)
class AddedFile:
    """A request file the default branch's first-parent history added."""

    path: str
    blob: str
    commit: str
    committed_at: datetime
    changed_later: bool = False


@dataclass
class RequestHistory:
    """The requests merged on the default branch, and every pull request of the repository."""

    repo: str
    branch: str
    tip: str
    requests: list[MergedRequest]
    pulls: list[PullRequest]
    #: Request files fetched before reading them (a blobless clone's missing ones).
    prefetched: int = 0
    _by_key: dict[str, MergedRequest] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {r.key: r for r in self.requests}

    def find(self, app: str, request_id: str) -> MergedRequest | None:
        return self._by_key.get(f"{app}/{request_id}")

    def open_pull(self, branch: str) -> PullRequest | None:
        return next((p for p in self.pulls if p.state == "open" and p.head_ref == branch), None)


def read_history(forge: Forge, repo: str) -> RequestHistory:
    """The requests repository's default branch, as merged, with its pull requests."""
    branch = forge.default_branch(repo)
    tip = forge.resolve_branch(repo, branch)
    if tip is None:
        raise BsError(f"{repo} has no default branch {branch}: push it first.")
    git_dir = forge.git_dir(repo)
    added = added_request_files(git_dir, tip)
    prefetched = prefetch_missing(git_dir, [a.blob for a in added])
    contents = read_blobs(git_dir, [a.blob for a in added])
    pulls = forge.list_pull_requests(repo, "all")
    merged: dict[str, list[PullRequest]] = {}
    for listed in pulls:
        if listed.merged:
            merged.setdefault(listed.head_ref, []).append(listed)
    requests = []
    for file in added:
        app, request_id = _PATH.fullmatch(file.path).groups()  # type: ignore[union-attr]
        request, problem = parse_request(contents.get(file.blob), file.path, app, request_id)
        candidates = merged.get(request_branch(app, request_id), [])
        # The pull request whose merge added it; else the last one merged from its branch.
        adding = [p for p in candidates if p.merge_commit_sha == file.commit] or candidates
        pull = adding[-1] if adding else None
        requests.append(
            MergedRequest(app, request_id, file.path, file.commit, file.committed_at,
                          request, problem, file.changed_later, pull)
        )  # fmt: skip
    return RequestHistory(repo, branch, tip, requests, pulls, prefetched)


def added_request_files(git_dir: Path, tip: str) -> list[AddedFile]:
    """Each request file `tip`'s first-parent history added, oldest first, with the commit
    that added it to the branch (a merge, as its first parent saw it) and its time."""
    # No pathspec: git would match it against every path of every commit, several times
    # slower than listing each commit's few changes and keeping the requests' here.
    out = gitcmd.run(
        git_dir, "log", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-abbrev",
        "--no-renames", "-z", "--reverse", "--format=%x01%H %ct", tip,
        what="reading the requests' history",
    )  # fmt: skip
    found: dict[str, AddedFile] = {}
    for chunk in out.split("\x01")[1:]:
        header, _, raw = chunk.partition("\0")
        commit, stamp = header.split()
        at = datetime.fromtimestamp(int(stamp), UTC)
        fields = raw.lstrip("\n").split("\0")
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(":") or not _PATH.fullmatch(path):
                continue
            _, _, _, blob, status = meta[1:].split()
            if path not in found:
                if status.startswith("A"):
                    found[path] = AddedFile(path, blob, commit, at)
            elif not found[path].changed_later:
                previous = found[path]
                found[path] = AddedFile(previous.path, previous.blob, previous.commit,
                                        previous.committed_at, changed_later=True)  # fmt: skip
    return list(found.values())


def prefetch_missing(git_dir: Path, blobs: Sequence[str]) -> int:
    """In a partial clone, fetch the `blobs` it lacks in one go (else git would fetch each
    one by itself as it is read); how many it fetched. A full repository: nothing to do."""
    remote = _promisor_remote(git_dir) if blobs else None
    if remote is None:
        return 0
    present = set(
        gitcmd.run(git_dir, "cat-file", "--batch-check=%(objectname)", "--batch-all-objects")
        .split()
    )  # fmt: skip
    missing = sorted(set(blobs) - present)
    if missing:
        with _lines_file(missing) as stdin:
            gitcmd.run(
                git_dir, "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--no-tags",
                "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none",
                "--stdin", remote, stdin=stdin,
                what=f"fetching {len(missing)} request files",
            )  # fmt: skip
    return len(missing)


def _promisor_remote(git_dir: Path) -> str | None:
    """The remote a partial clone fetches missing objects from; None for a full repository."""
    settings = gitcmd.run(git_dir, "config", "--list").splitlines()
    for line in settings:
        name, _, value = line.partition("=")
        if name == "extensions.partialclone" and value:
            return value
        if name.startswith("remote.") and name.endswith(".promisor") and value == "true":
            return name[len("remote.") : -len(".promisor")]
    return None


def read_blobs(git_dir: Path, blobs: Sequence[str]) -> dict[str, bytes]:
    """The contents of `blobs`, through one ``git cat-file --batch``; missing ones left out."""
    if not blobs:
        return {}
    with _lines_file(blobs) as stdin:
        out = gitcmd.run(git_dir, "cat-file", "--batch", stdin=stdin, what="reading requests")
    # git's bytes come back decoded with surrogateescape, the last newline stripped:
    # encoding them the same way gives every byte back, so the sizes hold.
    data = out.encode("utf-8", "surrogateescape") + b"\n"
    contents: dict[str, bytes] = {}
    position = 0
    while position < len(data):
        end = data.index(b"\n", position)
        header = data[position:end].split()
        position = end + 1
        if len(header) == 3:
            size = int(header[2])
            contents[header[0].decode()] = data[position : position + size]
            position += size + 1
    return contents


@contextmanager
def _lines_file(lines: Iterable[str]) -> Iterator[BinaryIO]:
    """A temporary file of `lines`, for a git command's stdin (no pipe to keep fed)."""
    with tempfile.TemporaryFile() as handle:
        handle.write("".join(f"{line}\n" for line in lines).encode())
        handle.seek(0)
        yield cast(BinaryIO, handle)


class _RequestLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's safe loader (thousands of files), strict as ``bs.yamlio``'s: a key given
    twice is refused, and timestamps stay strings for the model to read."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        duplicate = next((k for k in keys if keys.count(k) > 1), None)
        if duplicate is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {duplicate!r} is given twice", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


_RequestLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_request(
    data: bytes | None, path: str, app: str, request_id: str
) -> tuple[ReleaseRequest | None, str | None]:
    """The request in `data`, or None and why it is not one bs can read."""
    if data is None:
        return None, "git has no contents for it"
    if len(data) > MAX_YAML_BYTES:
        return None, f"{len(data)} bytes is too large for a request file"
    try:
        document = yaml.load(data.decode("utf-8"), Loader=_RequestLoader)  # noqa: S506 (a safe loader)
        request = ReleaseRequest.from_document(document)
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except yaml.YAMLError as exc:
        return None, f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
    except ValidationError as exc:
        return None, describe_errors(ReleaseRequest, exc, path, None)
    if (request.app, request.id) != (app, request_id):
        return None, f"it names {request.app}/{request.id}, not its own path"
    return request, None
