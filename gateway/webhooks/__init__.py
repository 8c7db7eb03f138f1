"""Status back to trusts by webhook: subscriptions, signed bodies, the relay and its workers.

See docs/trust-integration.md (Webhooks).
"""
