"""How bytes come in: SQL databases, file inboxes, paged HTTP APIs.

Connectors know transports and formats, never business rules: they hand back Arrow data
and raise the errors in `connectors.errors` with a message that names the source and cause.
"""
