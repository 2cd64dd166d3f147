"""`python -m billing_grpc.cli`, as the console script."""

from billing_grpc.cli import main

raise SystemExit(main())
