"""gridbot: a community assistant for residents' WeChat groups."""

__version__ = "0.1.0"
