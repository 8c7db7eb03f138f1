"""The canonical domain: one model of a homecare prescription, whatever format it came in."""
