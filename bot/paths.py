"""Where the running system reads its settings and writes its state.

Everything Porter writes lives under one folder (``var/`` by default, ``PORTER_VAR_DIR`` to move it),
so a fresh clone starts clean and nothing written at run time is ever committed. It holds conversations,
orders, tokens and logs: it is the owner's alone (0700, and 0600 for what is in it).
"""

import os
import stat
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("PORTER_VAR_DIR", PROJECT_ROOT / "var"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def make_private(folder: Path) -> None:
    """Takes every group and other permission off ``folder`` and everything in it (written before Porter
    set its umask: by `make train`, an older Porter, a shell redirect)."""
    for path in [folder, *folder.rglob("*")]:
        try:
            mode = path.lstat().st_mode
            if mode & 0o077 and not stat.S_ISLNK(mode):
                path.chmod(stat.S_IMODE(mode) & 0o700)
        except FileNotFoundError:  # a temporary file removed while we walked
            continue


def shop_db_path() -> Path:
    """The embedded database's file: everything Porter writes, unless PORTER_DATABASE_URL names another
    database (bot/storage)."""
    return Path(os.environ.get("PORTER_SHOP_DB", var_dir() / "shop.db"))


def policy_path() -> Path:
    return Path(os.environ.get("PORTER_POLICY", PROJECT_ROOT / "policy.yml"))


def nlu_config_path() -> Path:
    return Path(os.environ.get("PORTER_NLU_CONFIG", PROJECT_ROOT / "config.yml"))
