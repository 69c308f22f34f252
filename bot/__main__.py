"""Porter's operator command line: ``python -m bot --help``.

Every Porter process starts here (``serve`` starts the servers through it too), so this is where each one
makes what it writes the owner's alone (umask 077: 0600 files, 0700 folders under var/) and where every
log line it will ever write is scrubbed (bot.logs), before anything else is imported.
"""

import os

os.umask(0o077)

from bot import logs  # noqa: E402 - after the umask, before anything that could log

logs.install()

from bot.cli import main  # noqa: E402

raise SystemExit(main())
