"""The aiohttp web server: the sandbox chat page, the staff console, its JSON/Open311 API, health and metrics."""
