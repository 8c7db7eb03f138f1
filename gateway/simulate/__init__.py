"""Reference simulators of the other sides: a trust that posts exports and a provider that polls and delivers."""
