"""`python -m bot cluster` (`make run-cluster`): Porter on the real engines on one machine. PostgreSQL and Redis
from Debian's packages, several Rasa servers and action servers behind HAProxy, the web server and the refund
worker, supervised together (bot/cluster/launch.py)."""
