"""Scheduled jobs (plain functions over the database, run by bot.scheduler)."""
