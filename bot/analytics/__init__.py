"""What shoppers ask, what Porter solves and what it costs: figures computed from what Porter already stores."""
