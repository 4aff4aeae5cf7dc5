"""Running the gateway: settings, wiring (create_app), ops HTTP, logging, topic admin."""
