"""Writes a migration from the difference between the models and the migrated schema.

Used by developers after changing a model: `python -m models.regenerate "message"`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from models.migrate import MIGRATIONS, alembic_config, upgrade


def main(message: str) -> None:
    """Migrate a scratch SQLite database to head, then autogenerate the next revision."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'scratch.db'}"
        upgrade(url)
        count = len(list((MIGRATIONS / "versions").glob("[0-9]*.py")))
        command.revision(
            alembic_config(url), message=message, autogenerate=True, rev_id=f"{count + 1:04d}"
        )
    subprocess.run(["ruff", "format", str(MIGRATIONS / "versions")], check=False)
    subprocess.run(["ruff", "check", "--fix", "-q", str(MIGRATIONS / "versions")], check=False)


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "schema change")
