"""The command line: thin commands over the server factory, storage and the SDK."""
