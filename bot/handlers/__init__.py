"""Handlers, grouped in routers; ROUTERS is the order the dispatcher tries them in."""

from bot.handlers import resident

ROUTERS = [resident.router]
