"""The parties the kit plays, in their own words: a trust's export rows (`exports`) and a homecare provider's
messages and Tasks (`provider_messages`, `provider_tasks`, `provider_codes`).

They are restated from the EPS and homecare specifications, not built with the gateway's code, so that what the
kit sends is what an independently written trust or provider would. The gateway's simulators (`hgw simulate`),
demo data and benchmarks speak as those parties through these modules too: the simulators and the kit cannot
disagree on what a party sends.
"""

__all__ = ["exports", "provider_codes", "provider_messages", "provider_tasks"]
