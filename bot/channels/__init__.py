"""Channel adapters: turn platform events into `Incoming`, and `Outgoing` back into platform calls."""
