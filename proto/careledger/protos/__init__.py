"""Generated protobuf and gRPC modules; the sources are the .proto files beside them."""
