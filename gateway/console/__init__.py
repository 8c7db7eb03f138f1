"""The operator console: server-rendered pages, no JavaScript from outside the project."""
