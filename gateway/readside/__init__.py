"""The read side: what the parties may read of the registry's and the ledger's committed
outputs. Pure: the tables the projections keep, the writes each event implies, who may see
what, and the reports built from rows. The store adapters and the subscribers are elsewhere."""
