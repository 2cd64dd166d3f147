"""The gRPC adapter: servicers, converters, interceptors and the server itself."""
