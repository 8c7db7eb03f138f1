"""XML-DSig `<Signature>` elements, as in EPS Provenance.signature.data: parsed safely, checked over SignedInfo.

Parsing never reads a DTD: a document declaring one (or an entity) is refused before lxml sees it, and lxml runs with
entity resolution, DTD loading and network access off and its size limits on. Only the SignatureValue over the
canonical SignedInfo is checked here. The Reference digest covers content that is not in the Signature (EPS signs a
detached HL7 v3 form of the prescription, "FragmentsToBeHashed"): `digest_matches` compares it with the digest of
content the caller rebuilt (`fragments`). signxml is not used: it resolves References itself, and EPS's Reference has
no URI to resolve.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from gateway.signing.exceptions import MalformedSignatureError

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
MAX_SIGNATURE_BYTES = 256 * 1024

# Algorithm URI → (exclusive, with comments)
C14N_METHODS = {
    "http://www.w3.org/2001/10/xml-exc-c14n#": (True, False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": (True, True),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": (False, False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": (False, True),
}
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
DIGEST_METHODS: dict[str, type[hashes.HashAlgorithm]] = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1,  # what EPS digested with until it moved to SHA-256
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
SIGNATURE_METHODS: dict[str, type[hashes.HashAlgorithm]] = {
    RSA_SHA1: hashes.SHA1,  # EPS signs with rsa-sha1 to this day; verifying it is not choosing it
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}


@dataclass(frozen=True, slots=True)
class XmlSignature:
    """What verification needs from a `<Signature>`; empty value and certificates when EPS left placeholders."""

    signed_info: bytes  # canonical form, as signed
    signature_method: str
    signature_value: bytes
    certificates: list[bytes]  # DER, in document order: the signer's first
    digest_method: str
    digest_value: bytes  # of the one Reference EPS signs


def parse_signature(xml: bytes) -> XmlSignature:
    """The parts of an XML-DSig `<Signature>`; MalformedSignatureError for anything else."""
    root = _parse(xml)
    if root.tag != f"{{{DSIG_NS}}}Signature":
        raise MalformedSignatureError("Signature", f"the root element is {root.tag}, not an XML-DSig Signature")
    signed_info = _one(root, "SignedInfo")
    c14n = _algorithm(_one(signed_info, "CanonicalizationMethod"))
    if c14n not in C14N_METHODS:
        raise MalformedSignatureError("CanonicalizationMethod", f"unsupported algorithm {c14n}")
    method = _algorithm(_one(signed_info, "SignatureMethod"))
    if method not in SIGNATURE_METHODS:
        raise MalformedSignatureError("SignatureMethod", f"unsupported algorithm {method}")
    reference = _one(signed_info, "Reference")
    digest_method = _algorithm(_one(reference, "DigestMethod"))
    if digest_method not in DIGEST_METHODS:
        raise MalformedSignatureError("DigestMethod", f"unsupported algorithm {digest_method}")
    cert_path = f"{{{DSIG_NS}}}KeyInfo//{{{DSIG_NS}}}X509Certificate"
    certificates = [_base64(el.text, "X509Certificate") for el in root.iterfind(cert_path)]
    return XmlSignature(
        signed_info=_canonical(signed_info, c14n),
        signature_method=method,
        signature_value=_base64(_one(root, "SignatureValue").text, "SignatureValue"),
        certificates=[der for der in certificates if der],
        digest_method=digest_method,
        digest_value=_base64(_one(reference, "DigestValue").text, "DigestValue"),
    )


def signature_value_verifies(signature: XmlSignature, public_key: CertificatePublicKeyTypes) -> bool:
    """Whether SignatureValue is the signer's RSA PKCS#1 v1.5 signature over the canonical SignedInfo."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    algorithm = SIGNATURE_METHODS[signature.signature_method]()
    try:
        public_key.verify(signature.signature_value, signature.signed_info, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


def digest_matches(signature: XmlSignature, content: bytes) -> bool:
    """Whether the Reference's DigestValue is the digest of `content` (already canonical) by its DigestMethod."""
    digest = hashes.Hash(DIGEST_METHODS[signature.digest_method]())
    digest.update(content)
    return hmac.compare_digest(digest.finalize(), signature.digest_value)


def _parse(xml: bytes) -> etree._Element:
    if len(xml) > MAX_SIGNATURE_BYTES:
        raise MalformedSignatureError("Signature", f"{len(xml)} bytes, more than {MAX_SIGNATURE_BYTES} allowed")
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise MalformedSignatureError("Signature", "DTDs and entity declarations are refused, never read")
    # A parser per call (lxml parsers must not be shared between threads). Comments, PIs and whitespace are kept:
    # canonicalisation counts them.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        collect_ids=False, remove_blank_text=False, remove_comments=False, remove_pis=False,
    )  # fmt: skip
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedSignatureError("Signature", f"not well-formed XML: {exc}") from exc
    if root is None or root.getroottree().docinfo.doctype:
        raise MalformedSignatureError("Signature", "no document element, or a DTD")
    return root


def _one(parent: etree._Element, name: str) -> etree._Element:
    found = parent.findall(f"{{{DSIG_NS}}}{name}")
    if len(found) != 1:
        raise MalformedSignatureError(name, f"{len(found)} {name} elements where one is required")
    return found[0]


def _algorithm(element: etree._Element) -> str:
    value = element.get("Algorithm")
    if not value:
        raise MalformedSignatureError(etree.QName(element).localname, "no Algorithm attribute")
    return str(value)


def _canonical(signed_info: etree._Element, c14n: str) -> bytes:
    exclusive, with_comments = C14N_METHODS[c14n]
    prefixes: list[str] = []
    if exclusive:
        for ns in signed_info.iterfind(f"{{{DSIG_NS}}}CanonicalizationMethod/{{{EXC_C14N_NS}}}InclusiveNamespaces"):
            prefixes += [p for p in (ns.get("PrefixList") or "").split() if p != "#default"]
    try:
        out: bytes = etree.tostring(
            signed_info, method="c14n", exclusive=exclusive, with_comments=with_comments,
            inclusive_ns_prefixes=prefixes or None,
        )  # fmt: skip
    except (etree.C14NError, ValueError) as exc:
        raise MalformedSignatureError("SignedInfo", f"cannot be canonicalised: {exc}") from exc
    return out


def _base64(text: str | None, where: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except binascii.Error as exc:
        raise MalformedSignatureError(where, "not base64") from exc
