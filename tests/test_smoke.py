from __future__ import annotations

import hashlib

from tests.conftest import World, git_bytes


def test_open_request_end_to_end(world: World) -> None:
    app = world.add_app("frontend")
    app.write("a.txt", "one\n").commit()
    app.tag("release_1")
    app.write("a.txt", "two\n").commit()
    app.tag("release_2", annotated=True)
    app.push_to(world.app_bare("alphagov/frontend"))
    world.deploy("alphagov/frontend", "release_1")

    result = world.bs("open-request", "frontend", "release_2", "--json")
    assert result.exit_code == 0, result.output
    expected = hashlib.sha256(
        git_bytes(
            world.app_bare("alphagov/frontend"),
            "diff",
            "--binary",
            "--full-index",
            "release_1",
            "release_2",
        )
    ).hexdigest()
    assert f'"patch_sha256": "{expected}"' in result.stdout
