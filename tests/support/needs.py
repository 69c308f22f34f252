"""What a test needs beyond Python and this repository, as pytest markers.

`make unit` (``PORTER_UNIT_TESTS=1``, see conftest.py) runs only the tests that need none of these, with no
trained model, browser or server; the helpers that start one refuse to in that run, so a test that forgot its marker
fails there instead of slowing it down. conftest.py marks the tests that use the fixtures named here; a test
that starts a server by other means carries the marker itself.
"""

from __future__ import annotations

import os

MARKERS = {
    "model": "Porter's trained model (`make train`, var/models/porter.tar.gz)",
    "live": "Porter's servers as `make run` starts them, with the trained model",
    "browser": "Debian's Chromium driven by Playwright (`make browser`)",
    "engines": "Debian's PostgreSQL or Redis started for the test (`make engines`)",
    "cluster": "Porter on PostgreSQL, Redis and HAProxy with several replicas (`make run-cluster`)",
    "slow": "takes a second or more: real waits (throttling, time budgets), the CLI in a subprocess, migrations",
}
UNIT_ONLY = "PORTER_UNIT_TESTS"

# The shared fixtures that start something, and the marker a test using them gets (conftest.py).
FIXTURE_MARKERS = {
    "porter": "live",
    "porter_cluster": "cluster",
    "postgres": "engines",
    "redis_server": "engines",
    "browser": "browser",
}


def starting(marker: str) -> None:
    """Called by each helper before it starts what ``marker`` stands for; refuses during `make unit`."""
    if os.environ.get(UNIT_ONLY):
        raise RuntimeError(
            f"this test starts {MARKERS[marker]}: mark it @pytest.mark.{marker} "
            "(tests/support/needs.py), `make unit` runs without it"
        )
