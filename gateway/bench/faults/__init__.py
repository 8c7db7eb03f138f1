"""The delivery fault campaign: a failing provider on loopback, SIGKILLed workers, PostgreSQL restarts.

`receiver` is the provider (its own process; it counts receipts and effects), `schedule` decides how it fails,
`worker` is a push worker process with the campaign's hooks, `campaign` drives a run and `report` counts what
happened. `api_campaign` does the same to the API: `server` is `hgw serve` able to kill itself at its worst moment,
killed and restarted while simulated trusts and a provider retry through it. `hgw bench --faults`,
tests/integration/test_fault_campaign.py and test_api_fault_campaign.py run them; docs/delivery.md explains them.
"""
