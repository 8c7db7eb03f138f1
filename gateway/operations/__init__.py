"""What operators do: providers and routes, accounts, the message browser, the portal, key rotation and health.

Enters: the `hgw` command line, the operator API and the console. Leaves: configuration the other stages read
(providers, routes, the organisation directory) and masked views of what the gateway holds.
"""

__all__ = [
    "admin",
    "cli",
    "health",
    "key_rotation",
    "message_view",
    "metrics_access",
    "ods_file",
    "operators",
    "organisations",
    "overview",
    "portal",
]
