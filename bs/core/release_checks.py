"""The checks of the release a request describes, against the app's repository now.

The tag is still the scheme tag pinned to the commit; what is deployed is still
what the request starts from; the release is newer (descends from it and, both
being scheme tags, comes later in the scheme); the committed patch, the
request's digest and the diff git recomputes agree; so do the statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bs.core.request import ReleaseRequest
from bs.core.words import count_noun

if TYPE_CHECKING:
    from bs.core.checks import IntegrityFacts

#: Records one check's result (True passed, False failed, None not run); returns
#: whether it passed.
AddCheck = Callable[[str, "bool | None", str], bool]
_Add = AddCheck


def check_release(facts: IntegrityFacts, request: ReleaseRequest, add: _Add) -> None:
    _check_tag(facts, request, add)
    _check_deployed(facts, request, add)
    _check_newer(facts, request, add)
    _check_digest(facts, request, add)
    _check_stats(facts, request, add)


def _check_tag(facts: IntegrityFacts, request: ReleaseRequest, add: _Add) -> None:
    to, scheme = request.to, facts.scheme
    described = f" ({scheme.describe()})" if scheme else ""
    if to.tag is None:
        add(
            "tag", False,
            f"the request names no tag for {to.commit[:12]}: a release is a tag of "
            f"{request.app}'s scheme{described}; open it with `bs open-request`",
        )  # fmt: skip
    elif scheme is not None and not scheme.matches(to.tag):
        add("tag", False, f"'{to.tag}' is not a release tag of {request.app}{described}")
    elif facts.tag_commit_now is None:
        add(
            "tag", False,
            f"tag {to.tag} no longer exists: it was pinned to {to.commit[:12]}; open a new request",
        )  # fmt: skip
    elif facts.tag_commit_now != to.commit:
        add(
            "tag", False,
            f"tag {to.tag} now points at {facts.tag_commit_now[:12]}, not the pinned {to.commit[:12]}: "
            "it was moved after the request was opened; open a new request",
        )  # fmt: skip
    else:
        add("tag", True, f"tag {to.tag} still points at the pinned {to.commit[:12]}")


def _check_deployed(facts: IntegrityFacts, request: ReleaseRequest, add: _Add) -> None:
    if request.follow_up_of is not None:
        # Reviewed after the fact: the emergency it follows moved what is deployed.
        add("deployed", True, "a follow-up: what is deployed now does not matter")
        return
    pinned = request.from_
    pinned_from = pinned.commit if pinned else None
    if facts.deployed_now != pinned_from:
        now = facts.deployed_now[:12] if facts.deployed_now else "nothing"
        was = pinned_from[:12] if pinned_from else "nothing"
        add(
            "deployed", False,
            f"the deployed version changed since this request was opened (was {was}, now {now}): open a new one",
        )  # fmt: skip
    elif pinned is not None and pinned.tag != facts.deployed_tag_now:
        # The request must name the deployed commit as bs does: else leaving its tag
        # out would also leave out the check that the release comes later in the scheme.
        named = f"tag {pinned.tag}" if pinned.tag else "no tag"
        actual = (
            f"is tagged {facts.deployed_tag_now}" if facts.deployed_tag_now else "has no scheme tag"
        )
        add(
            "deployed", False,
            f"the request names the deployed {pinned.commit[:12]} with {named}, but it {actual}: "
            "the request misnames what is deployed",
        )  # fmt: skip
    else:
        add("deployed", True, "what is deployed is still what the request starts from")


def _check_newer(facts: IntegrityFacts, request: ReleaseRequest, add: _Add) -> None:
    """A release descends from what is deployed and comes later in the scheme; a rollback
    is in the deployed commit's history and comes earlier."""
    to, pinned, scheme = request.to, request.from_, facts.scheme
    back = request.rollback
    label = to.tag or to.commit[:12]
    if pinned is None:
        if back:
            add(
                "ancestry", False, "a rollback from nothing deployed: there is nothing to roll back"
            )
        else:
            add("ancestry", True, "a first deploy: nothing to descend from")
        return
    if to.commit == pinned.commit:
        what = "roll back" if back else "release"
        add("ancestry", False, f"{label} is what is deployed: there is nothing to {what}")
    elif not (facts.from_descends if back else facts.to_descends):
        add(
            "ancestry", False,
            f"the deployed {pinned.commit[:12]} does not descend from {label}: it is no rollback"
            if back
            else f"{label} does not descend from the deployed {pinned.commit[:12]}: it is not newer",
        )  # fmt: skip
    elif (
        scheme is not None
        and to.tag is not None
        and pinned.tag is not None
        and scheme.matches(to.tag)
        and scheme.matches(pinned.tag)
        and (
            scheme.compare(to.tag, pinned.tag) >= 0
            if back
            else scheme.compare(to.tag, pinned.tag) <= 0
        )
    ):
        add(
            "ancestry", False,
            f"{to.tag} does not come before the deployed {pinned.tag} in the tag scheme, "
            "although the deployed commit descends from it"
            if back
            else f"{to.tag} does not come after the deployed {pinned.tag} in the tag scheme, "
            "although its commit descends from it",
        )  # fmt: skip
    elif back:
        add(
            "ancestry", True, f"a rollback: the deployed {pinned.commit[:12]} descends from {label}"
        )
    else:
        add("ancestry", True, f"{label} descends from the deployed {pinned.commit[:12]}")


def _check_digest(facts: IntegrityFacts, request: ReleaseRequest, add: _Add) -> None:
    want = request.patch.sha256
    if facts.digest_of_patch_file is None:
        add("digest", False, facts.patch_error or f"{request.patch.file} could not be read")
    elif facts.digest_of_patch_file != want:
        add(
            "digest", False,
            f"{request.patch.file} does not match the request's sha256 (the file's is "
            f"{facts.digest_of_patch_file[:12]}, the request says {want[:12]}): the patch was edited",
        )  # fmt: skip
    elif facts.digest_from_git != want:
        got = facts.digest_from_git[:12] if facts.digest_from_git else "nothing"
        add(
            "digest", False,
            f"the diff git computes for this release ({got}) is not the one in the request ({want[:12]}): "
            "the request's digest and patch do not describe this release",
        )  # fmt: skip
    else:
        add("digest", True, f"the patch, the request and git agree: sha256 {want[:12]}")


def _describe(files: int, insertions: int, deletions: int, commits: int) -> str:
    return (
        f"{count_noun(files, 'file')}, +{insertions} -{deletions}, {count_noun(commits, 'commit')}"
    )


def _check_stats(facts: IntegrityFacts, request: ReleaseRequest, add: _Add) -> None:
    patch = request.patch
    said = (patch.files_changed, patch.insertions, patch.deletions, patch.commits)
    if facts.stats_from_git is None:
        add("stats", None, "not checked: git could not count the release")
    elif facts.stats_from_git != said:
        add(
            "stats", False,
            f"the request says {_describe(*said)}; git counts {_describe(*facts.stats_from_git)}: "
            "the request misdescribes the release",
        )  # fmt: skip
    else:
        add("stats", True, f"git counts what the request says: {_describe(*said)}")
