"""The registry core: its state, and messages + state -> state + messages (pure)."""
