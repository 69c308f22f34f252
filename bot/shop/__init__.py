"""The shop's orders: the data model, the orders/v1 import format and the stores behind one interface."""
