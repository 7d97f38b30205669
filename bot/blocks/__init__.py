"""Block Kit rendering, one module per message type, shared by the bot and the worker."""
