"""Records through the pure steps: decoding, sender rules, decisions, outputs, dead letters."""
