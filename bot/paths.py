"""Where the running system reads its settings and writes its state.

Everything Porter writes lives under one folder (``var/`` by default, ``PORTER_VAR_DIR`` to move it),
so a fresh clone starts clean and nothing written at run time is ever committed.
"""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    path = Path(os.environ.get("PORTER_VAR_DIR", PROJECT_ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def shop_db_path() -> Path:
    """The SQLite file holding orders and cases for the embedded default."""
    return Path(os.environ.get("PORTER_SHOP_DB", var_dir() / "shop.db"))


def policy_path() -> Path:
    return Path(os.environ.get("PORTER_POLICY", PROJECT_ROOT / "policy.yml"))


def nlu_config_path() -> Path:
    return Path(os.environ.get("PORTER_NLU_CONFIG", PROJECT_ROOT / "config.yml"))
