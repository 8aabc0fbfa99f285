"""Node plumbing shared by peers and orderers: gRPC servers and channels, signed-request checks, envelope
admission, metrics and health, the process wrapper, and the connection pool."""
