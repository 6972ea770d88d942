"""The `byoc` command: one parser per command, dispatch and error reporting."""
