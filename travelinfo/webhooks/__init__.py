"""Webhook subscriptions and their durable, signed delivery."""
