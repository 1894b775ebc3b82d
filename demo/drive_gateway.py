"""Drive the deploy gateway over HTTP as alice's browser would, for `make demo`.

alice finds her deploy link in the outbox, opens it, signs in (the local
sign-in), confirms, presses Deploy and watches the log until it finishes.
Then she tries the same link again, and it is refused. The link itself is
never printed.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import re
import sys
import time
from pathlib import Path

import requests

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def find_link(outbox: Path, gateway: str, to: str) -> str:
    pattern = re.compile(re.escape(gateway.rstrip("/")) + r"/link/[A-Za-z0-9._-]+")
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if to not in str(message["To"]):
            continue
        body = message.get_body(preferencelist=("plain",))
        found = pattern.search(body.get_content() if body else "")
        if found:
            return found.group(0)
    sys.exit(f"no deploy link for {to} in {outbox}")


def csrf(page: requests.Response) -> str:
    found = CSRF.search(page.text)
    if not found:
        sys.exit(f"no form on {page.url}: {page.status_code}")
    return found.group(1)


def title(page: requests.Response) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    return found.group(1).strip() if found else "?"


def step(text: str) -> None:
    print(f"  -> {text}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--address", required=True)
    args = parser.parse_args()
    base = args.gateway.rstrip("/")
    link = find_link(args.outbox, base, args.address)
    shown = base + "/link/[the token from the mail]"
    browser = requests.Session()
    origin = {"Origin": base}

    page = browser.get(link)
    step(f"GET {shown}: {page.status_code} '{title(page)}' (nothing is spent by opening it)")
    found = re.search(r'id="sign-in-to-continue" href="([^"]+)"', page.text)
    if not found:
        sys.exit("no sign-in button on the link's page")
    page = browser.get(base + html.unescape(found.group(1)))
    back_to = re.search(r'name="next" value="([^"]*)"', page.text)
    page = browser.post(
        base + "/signin/local",
        data={"user": args.user, "csrf": csrf(page), "next": html.unescape(back_to.group(1))}
        if back_to
        else {"user": args.user, "csrf": csrf(page)},
        headers=origin,
    )
    step(f"signed in as {args.user} (local sign-in), back on the link: '{title(page)}'")
    for label in ("Requested by", "Approved by", "Deploy slot"):
        found = re.search(rf"{label}</th><td[^>]*>(.*?)</td>|{label}: (.*?)\.</p>", page.text, re.S)
        if found:
            value = re.sub(r"<[^>]+>", "", found.group(1) or found.group(2) or "")
            step(f"{label}: {' '.join(value.split())}")
    page = browser.post(link, data={"csrf": csrf(page)}, headers=origin)
    step(f"POST (Open the deployment): now at {page.url.removeprefix(base)}: '{title(page)}'")
    deployment = page.url
    page = browser.post(deployment + "/deploy", data={"csrf": csrf(page)}, headers=origin)
    answer = page.history[0].status_code if page.history else page.status_code
    step(f"POST (Deploy): {answer}, back to the page; the log, as it shows it live:")
    after, state = 0, "running"
    for _ in range(600):
        progress = browser.get(f"{deployment}/progress", params={"after": after}).json()
        for line in progress["lines"]:
            print(f"       | {line['line']}")
            after = line["id"]
        state = progress["state"]
        if state not in ("running", "ready"):
            break
        time.sleep(0.5)
    step(f"result: {state}: {progress['summary']}")
    again = requests.Session()
    page = again.get(base + "/signin")
    again.post(base + "/signin/local", data={"user": args.user, "csrf": csrf(page)}, headers=origin)
    page = again.get(link)
    step(f"the same link again: {page.status_code} '{title(page)}'")
    if state != "succeeded" or page.status_code != 403:
        sys.exit("demo: the deployment should have succeeded and the link be spent")


if __name__ == "__main__":
    main()
