"""Media: receiving uploads (`uploads`), processing them off the event loop (`pipeline`)."""
