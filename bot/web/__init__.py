"""The aiohttp web server: the sandbox chat page now, the staff console later."""
