"""`billing-grpc demo`: a scripted tour of the product against a running server on a test clock."""
