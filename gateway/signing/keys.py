"""The gateway's own signing keys (ES256, P-256), one JSON file each under `<data_dir>/keys/signing/`.

A key file holds `kid`, `alg`, `created`, `status` (current | retired), `demo` and the PKCS#8 private key PEM; it is
mode 0600 in a 0700 folder, and a file that group or others may read is refused. One key is current and signs;
retired keys are kept so that what was signed before a rotation still verifies, and the JWKS publishes them all.
The kid is the key's RFC 7638 thumbprint, so a file whose key and kid disagree is caught on load.

Files are written to a temporary name and renamed, under an advisory lock, so a reader never sees half a key and
two processes never both create the first key. A rotation writes the new current key before retiring the old one:
if it stops between the two, the newest current key wins. A store re-reads the folder when it changes, so a
running server picks up `hgw keys rotate` without a restart.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.private_files import private_dir
from gateway.signing.exceptions import DemoKeyError, SigningKeyError

ALG = "ES256"
KEY_FOLDER = Path("keys") / "signing"
Mode = Literal["production", "demo", "test"]
Status = Literal["current", "retired"]

_KID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_LOCK_NAME = ".lock"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK members of a P-256 key (kty, crv, x, y)."""
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256): the required members, sorted, no whitespace."""
    members = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(members.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One signing key. The private key never appears in a repr."""

    kid: str
    created: datetime
    status: Status
    demo: bool
    private_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        """The public JWK with kid, alg and use, as published."""
        return {**public_jwk(self.public_key), "kid": self.kid, "alg": ALG, "use": "sig"}

    def summary(self) -> dict[str, Any]:
        """What `hgw keys list` shows: everything but the key itself."""
        return {
            "kid": self.kid,
            "alg": ALG,
            "status": self.status,
            "created": self.created.isoformat(),
            "demo": self.demo,
        }


@dataclass(frozen=True, slots=True)
class Rotation:
    current: SigningKey
    retired: list[str]


class SigningKeyStore:
    """The signing keys in one folder. `mode == "demo"` marks every key it makes as a demo key."""

    def __init__(self, directory: Path, *, mode: Mode, clock: Callable[[], datetime] = _utc_now) -> None:
        self.directory = directory
        self.mode = mode
        self._clock = clock
        self._cache: tuple[tuple[tuple[str, int], ...], list[SigningKey]] | None = None
        self._cache_lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path, mode: Mode, *, clock: Callable[[], datetime] = _utc_now) -> SigningKeyStore:
        """The store under `data_dir`, as it is: no key is made."""
        return cls(data_dir / KEY_FOLDER, mode=mode, clock=clock)

    @classmethod
    def load_or_create(cls, data_dir: Path, mode: Mode, *, clock: Callable[[], datetime] = _utc_now) -> SigningKeyStore:
        """The store under `data_dir`, with a first current key made if it has none."""
        store = cls.open(data_dir, mode, clock=clock)
        if not store.keys():
            with store._locked():
                if not store._read():
                    store._write(store._generate())
        return store

    def keys(self) -> list[SigningKey]:
        """Every key: the current one first, then the retired ones newest first.

        Only the newest key stored as current counts as current (a rotation stopped half-way leaves two).
        """
        version = self._version()
        with self._cache_lock:
            if self._cache is None or self._cache[0] != version:
                self._cache = (version, self._read())
            return list(self._cache[1])

    def current(self) -> SigningKey:
        for key in self.keys():
            if key.status == "current":
                return key
        raise SigningKeyError("no current signing key (run `hgw keys rotate` to make one)", path=self.directory)

    def get(self, kid: str) -> SigningKey | None:
        return next((key for key in self.keys() if key.kid == kid), None)

    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        """Every kept key's public half by kid, for verification."""
        return {key.kid: key.public_key for key in self.keys()}

    def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS to publish: current key first, then the retired ones kept for verification."""
        return {"keys": [key.jwk() for key in self.keys()]}

    def is_demo_key(self, kid: str) -> bool:
        key = self.get(kid)
        return key is not None and key.demo

    def rotate(self) -> Rotation:
        """Make a new current key; the old ones stay, retired, so their signatures still verify."""
        with self._locked():
            old = [key for key in self._read() if key.status == "current"]
            fresh = self._generate()
            self._write(fresh)
            for key in old:
                self._write(replace(key, status="retired"))
            retired = [key.kid for key in self._read() if key.status == "retired"]
        return Rotation(current=fresh, retired=retired)

    def remove(self, kid: str) -> None:
        """Delete a retired key: what it signed no longer verifies. The current key cannot be removed."""
        if not _KID_RE.match(kid):
            raise SigningKeyError(f"{kid!r} is not a signing key id", path=self.directory)
        with self._locked():
            key = next((k for k in self._read() if k.kid == kid), None)
            if key is None:
                raise SigningKeyError(f"no signing key {kid}", path=self.directory)
            if key.status == "current":
                raise SigningKeyError(f"{kid} is the current key; rotate first", path=self.directory)
            (self.directory / f"{kid}.json").unlink()

    def _version(self) -> tuple[tuple[str, int], ...]:
        # A write is a rename onto the name, so it always brings a new inode: names and inodes tell any change,
        # where the folder's mtime may not move within one clock tick.
        try:
            with os.scandir(self.directory) as entries:
                return tuple(sorted((e.name, e.inode()) for e in entries if e.name.endswith(".json")))
        except FileNotFoundError:
            return ()

    def _generate(self) -> SigningKey:
        private = ec.generate_private_key(ec.SECP256R1())
        created = self._clock()
        if created.tzinfo is None:
            raise ValueError("the clock must give timezone-aware times")
        return SigningKey(
            kid=thumbprint(private.public_key()),
            created=created,
            status="current",
            demo=self.mode == "demo",
            private_key=private,
        )

    def _read(self) -> list[SigningKey]:
        if not self.directory.exists():
            return []
        found = [_load_key_file(path) for path in sorted(self.directory.glob("*.json"))]
        found.sort(key=lambda k: (k.created, k.kid), reverse=True)
        seen_current = False
        keys = []
        for key in found:
            if key.status == "current":
                if seen_current:
                    key = replace(key, status="retired")
                seen_current = True
            keys.append(key)
        keys.sort(key=lambda k: k.status != "current")  # stable: the current key first, then newest first
        return keys

    def _write(self, key: SigningKey) -> None:
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        document = {**key.summary(), "private_key_pem": pem.decode("ascii")}
        final = self.directory / f"{key.kid}.json"
        temporary = self.directory / f".{key.kid}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(document, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.directory)
        self.directory.chmod(0o700)
        fd = os.open(self.directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """The P-256 public keys of a JWKS by kid, for verification; other keys are skipped, private parts ignored."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise SigningKeyError("not a JWKS (a JSON object with a keys array)")
    found: dict[str, ec.EllipticCurvePublicKey] = {}
    for i, jwk in enumerate(entries):
        kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        if not isinstance(kid, str) or not kid:
            continue
        public = {k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk}
        try:
            key = jwt.PyJWK(public, algorithm=ALG).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError) as exc:
            raise SigningKeyError(f"JWKS keys[{i}] is not a usable P-256 key: {exc}") from exc
        if isinstance(key, ec.EllipticCurvePublicKey):
            found[kid] = key
    return found


def assert_production_ready(store: SigningKeyStore) -> None:
    """Raise DemoKeyError naming every demo key in `store`. `hgw serve` calls it whenever mode is not "demo"."""
    demo = [key.kid for key in store.keys() if key.demo]
    if demo:
        raise DemoKeyError(demo, directory=store.directory)


def _load_key_file(path: Path) -> SigningKey:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(f"readable by others (mode {stat.S_IMODE(mode):04o}); chmod 600 it", path=path)
        document = json.loads(path.read_text(encoding="utf-8"))
        private = serialization.load_pem_private_key(document["private_key_pem"].encode("ascii"), password=None)
        status = document["status"]
        created = datetime.fromisoformat(document["created"])
        kid = document["kid"]
        demo = document.get("demo", False)
    except SigningKeyError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SigningKeyError(f"unreadable signing key file: {exc}", path=path) from exc
    if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
        raise SigningKeyError("not a P-256 key", path=path)
    if document.get("alg", ALG) != ALG or status not in ("current", "retired") or not isinstance(demo, bool):
        raise SigningKeyError("unexpected alg, status or demo marker", path=path)
    if kid != thumbprint(private.public_key()) or path.stem != kid:
        raise SigningKeyError("the kid does not match the key (file edited or renamed?)", path=path)
    if created.tzinfo is None:
        raise SigningKeyError("created has no time zone", path=path)
    return SigningKey(kid=kid, created=created, status=status, demo=demo, private_key=private)
