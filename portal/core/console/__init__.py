"""The console: admin accounts, team, audit, support, figures, brands, API clients."""
