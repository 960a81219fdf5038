"""The HTTP service: the Litestar app, its faces and receivers."""
