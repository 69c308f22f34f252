"""Porter speaks first: it watches the tracking, warns shoppers of a new situation on their order, follows up
after a fix and asks how it went. The words come from the language catalogs; the rules from policy.yml."""
