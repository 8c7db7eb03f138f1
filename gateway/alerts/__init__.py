"""Alerts: rules over the queue and the delivery record, each episode opened once and resolved once.

rules.py     the five rule kinds and their thresholds (HGW_ALERT_* defaults, overridden per provider by
             `alert_rule` rows managed with `hgw alerts rules …`)
measure.py   turns what the store reads into one observation per rule and provider (pure)
evaluate.py  opens and resolves `alert` rows (a unique open key makes concurrent evaluators safe), logs and
             counts the transitions, then hands pending notices to the notifiers
notify.py    webhook (JSON POST, HMAC-signed) and e-mail (SMTP) notifiers
loop.py      the evaluator loop the app's lifespan starts
cli.py       `hgw alerts list|evaluate|rules …`

See docs/observability.md.
"""
