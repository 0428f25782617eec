"""Where uploaded files live: a small storage interface and its local-disk implementation.

Keys are opaque names chosen here (never a user's file name), so a key can name a file in an object
store later without changing callers. The local store keeps files under UPLOAD_FOLDER (default
`<instance>/uploads`).
"""

import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app, url_for

KEY_RE = re.compile(r"^[a-z]+/[0-9a-f]{32}\.[a-z0-9]{1,5}$")


class Storage(Protocol):
    """What the catalog needs of a file store."""

    def save(self, data: bytes, suffix: str) -> str: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str) -> str | None: ...


class LocalStorage:
    """Files on the local disk under `root`, in one folder per kind (`products/<random>.jpg`)."""

    def __init__(self, root: str | os.PathLike, folder: str = "products"):
        self.root = Path(root)
        self.folder = folder

    def _path(self, key: str) -> Path:
        if not KEY_RE.match(key):  # keys come from our rows, but never let one walk out of the root
            raise FileNotFoundError(key)
        return self.root / key

    def save(self, data: bytes, suffix: str) -> str:
        """Write `data` under a new random key ending in `suffix` (".jpg"); return the key."""
        key = f"{self.folder}/{secrets.token_hex(16)}{suffix.lower()}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file
        return key

    def open(self, key: str) -> BinaryIO:
        """The stored file, opened for binary reading; FileNotFoundError when missing."""
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        """Remove the file; a missing one is not an error."""
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def url(self, key: str) -> str | None:
        """Local files have no public address: the app serves them (catalog.product_image) by image id."""
        return None


def get_storage() -> Storage:
    """The configured store: LocalStorage under UPLOAD_FOLDER (default `<instance>/uploads`)."""
    root = current_app.config.get("UPLOAD_FOLDER") or os.path.join(current_app.instance_path, "uploads")
    return LocalStorage(root)


def image_url(image) -> str:
    """The address a page uses to show a ProductImage."""
    return get_storage().url(image.storage_key) or url_for("catalog.product_image", image_id=image.id)
