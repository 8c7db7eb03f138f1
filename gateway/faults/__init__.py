"""The delivery fault campaign: a failing provider on loopback, SIGKILLed workers, PostgreSQL restarts.

`receiver` is the provider (its own process; it counts receipts and effects), `schedule` decides how it fails,
`worker` is a push worker process with the campaign's hooks, `campaign` drives a run and `report` counts what
happened. `hgw bench --faults` and tests/integration/test_fault_campaign.py run it; docs/delivery.md explains it.
"""
