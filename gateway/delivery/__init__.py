"""Push delivery to providers' `$process-message`: retry policy, circuit breaker, relay, worker, dead letters, replay.

See docs/delivery.md.
"""
