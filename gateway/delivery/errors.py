"""Why a push delivery attempt failed.

GatewayError (gateway.errors)
└── DeliveryError                     an attempt to hand a message to a provider failed
    ├── TransientDeliveryError        worth retrying: the provider said transient-error, or its 2xx was unreadable
    │   └── EndpointUnavailableError  5xx, 408, 429, a timeout, a refused or dropped connection: these also
    │                                 count against the endpoint's circuit breaker
    └── PermanentDeliveryError        retrying cannot help: any other 4xx

httpx errors are converted where httpx is called (`gateway.delivery.transport`) and chained.
"""

from __future__ import annotations

from gateway.errors import GatewayError


class DeliveryError(GatewayError):
    """A failed attempt, with what the attempt record needs.

    `outcome` is a short code (`http-503`, `timeout`, `connection-error`, `transient-error`, …); `reason` is a
    sentence free of patient data; `excerpt` is the start of the provider's answer, already redacted.
    """

    code = "DELIVERY_FAILED"

    def __init__(
        self, reason: str, *, outcome: str, status_code: int | None = None, excerpt: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome
        self.status_code = status_code
        self.excerpt = excerpt


class TransientDeliveryError(DeliveryError):
    code = "DELIVERY_TRANSIENT"


class EndpointUnavailableError(TransientDeliveryError):
    code = "DELIVERY_ENDPOINT_UNAVAILABLE"


class PermanentDeliveryError(DeliveryError):
    code = "DELIVERY_PERMANENT"
