"""``bs hook closed``'s one entry point: which of the hooks a pull request's state calls for."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from bs.config import BsConfig
from bs.core.links import Keyring
from bs.ports import Forge, Mailer
from bs.usecases.follow_up import FollowUpApproved
from bs.usecases.hook_closed import NotARequest, Removal, read_request_report, remove_denied_request
from bs.usecases.hook_merged import AlreadyMinted, MintedLink, handle_merged
from bs.usecases.hook_refused import RefusedMerge

ClosedOutcome = MintedLink | RefusedMerge | AlreadyMinted | NotARequest | Removal | FollowUpApproved


def run_closed_hook(
    forge: Forge,
    mailer: Mailer,
    config: BsConfig,
    number: int,
    keyring_loader: Callable[[], Keyring],
    *,
    now: Callable[[], datetime],
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> ClosedOutcome:
    """Merged: re-evaluate and mint, or refuse. Otherwise: remove a closed or rejected request."""
    pull = forge.get_pull_request(config.requests_repo, number)
    if pull.merged:
        return handle_merged(
            forge, mailer, config, pull, keyring_loader, now=now, random_bytes=random_bytes
        )
    report = read_request_report(forge, config, pull)
    if isinstance(report, NotARequest):
        return report
    return remove_denied_request(forge, mailer, config, report, now=now)
