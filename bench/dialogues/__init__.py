"""The lead-dialogue simulator behind `python -m bench.lead_dialogues`."""
