"""Errors of message signing.

A signature that does not verify is not an error: `verify_bundle` and `inspect_eps_signature` answer it with a
verdict. These are raised when signing cannot be done, or when key material is unusable.

GatewayError
├── SignatureError                  signing or verification could not be carried out
│   ├── CanonicalisationError       the bundle has no exact RFC 8785 form (located by a JSON path)
│   ├── MalformedSignatureError     signature data is not what its format says (turned into verdicts, not raised
│   │                               by the verifiers)
│   └── FragmentError               what EPS signed cannot be rebuilt from the bundle (located by a FHIR path)
└── ConfigurationError
    └── SigningKeyError             key files or a JWKS unreadable, corrupt or readable by others (names the file)
        └── DemoKeyError            demo keys present where production keys are required (names the kids)
"""

from __future__ import annotations

from pathlib import Path

from gateway.errors import ConfigurationError, GatewayError


class SignatureError(GatewayError):
    code = "SIGNATURE_ERROR"


class CanonicalisationError(SignatureError):
    """A value JCS cannot carry exactly: a number beyond a double's precision, a non-string key, a lone surrogate."""

    code = "SIGNATURE_NOT_CANONICALISABLE"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class MalformedSignatureError(SignatureError):
    """`where` names the part that is wrong (a header, an XML element, the base64 wrapper)."""

    code = "SIGNATURE_MALFORMED"

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class FragmentError(SignatureError):
    """The bundle lacks what EPS needs to rebuild the signed fragments; `path` is the FHIR element."""

    code = "SIGNED_FRAGMENTS_UNBUILDABLE"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class SigningKeyError(ConfigurationError):
    """`path` is the key file (or JWKS source) at fault, when there is one."""

    code = "SIGNING_KEY_ERROR"

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class DemoKeyError(SigningKeyError):
    """Demo signing keys (anyone may hold them) are present outside demo mode."""

    code = "DEMO_SIGNING_KEY"

    def __init__(self, kids: list[str], *, directory: Path) -> None:
        self.kids = kids
        super().__init__(
            f"demo signing key(s) {', '.join(kids)} present; outside demo mode run `hgw keys rotate` and then "
            f"`hgw keys remove KID` for each, or start from an empty key folder",
            path=directory,
        )
