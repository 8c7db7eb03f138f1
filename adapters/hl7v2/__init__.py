"""The HL7 v2 homecare order adapter (shared/specs/hl7v2-homecare-order.md v1.0): RDE^O11 in, ACKs out.

The MLLP listener is `adapters.hl7v2.mllp.serve_mllp`.
"""

from adapters.hl7v2.ack import Outcome, build_acks, reject_payload, render_ack
from adapters.hl7v2.parser import Hl7ParseResult, Hl7v2Adapter, MessageHeader
from adapters.hl7v2.writer import MessageSpec, render_batch, render_message

__all__ = [
    "Hl7ParseResult", "Hl7v2Adapter", "MessageHeader", "MessageSpec", "Outcome", "build_acks", "reject_payload",
    "render_ack", "render_batch", "render_message",
]
