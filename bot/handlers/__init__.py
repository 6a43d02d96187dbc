"""Handlers, grouped in routers; ROUTERS is the order the dispatcher tries them in."""

from bot.handlers import members, notices, photos, private, recall, resident, staff

ROUTERS = [members.router, photos.router, recall.router, notices.router, staff.router, resident.router,
           private.router]
