"""Wire contracts of the custody gateway: message bodies, the envelope, the topic catalogue."""
