"""The social media bot: rules, texts, state, networks."""
