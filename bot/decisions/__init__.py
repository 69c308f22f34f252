"""Porter's decision core, free of Rasa and of any channel: the merchant's policy (policy.py), what the tracking
says happened (situations.py), the kinds of problem (problems.py), what to do about each (remedies.py) and the
record of what was done (cases.py). The actions and the desk ask it; it asks nothing of them."""
