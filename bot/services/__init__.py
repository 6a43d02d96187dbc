"""The rules of the ticket loop, shared by chat handlers and the web console (one copy)."""
