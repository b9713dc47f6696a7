"""Work folders that the services' unprivileged users (postgres, postfix, dovecot, mail) can reach.

Postfix, Dovecot and PostgreSQL drop root, so every folder above their files needs search (x)
permission for others. pytest's ``/tmp/pytest-of-<user>`` is 0700 and *every* new pytest
session sets it back to 0700, even while another session's services run from below it: give
services a folder of their own instead.

>>> root = service_root("data")        # /tmp/rsl-data-XXXX, mode 0711
>>> MailServer(MailSpec(), root / "mail", pki)
>>> remove(root)                       # after the services stopped
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rs_lab.netns import PREFIX

LAB_TMP = Path(os.environ.get("RS_LAB_TMP", tempfile.gettempdir()))


def service_root(stem: str) -> Path:
    """A new folder ``$RS_LAB_TMP/<prefix>-<stem>-XXXX`` that others may traverse (0711)."""
    LAB_TMP.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-{stem}-", dir=LAB_TMP))
    root.chmod(0o711)
    make_traversable(root)
    return root


def make_traversable(folder: Path) -> None:
    """Add o+x (search only, never read) to ``folder`` and its parents where it is missing."""
    for part in [folder, *folder.parents]:
        if part.exists() and not part.stat().st_mode & 0o001:
            part.chmod(part.stat().st_mode | 0o001)


def remove(root: Path) -> None:
    """Delete a service root (and everything the stopped services left in it)."""
    shutil.rmtree(root, ignore_errors=True)
