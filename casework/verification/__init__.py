"""Verification rounds (核查 → 销号): the lists of suspected out-of-school children pushed
down from above, and the quarterly re-checks of our own cases.

- ``importing``: a list read, checked (all or nothing), matched to our records in batches
  (by ID hash; by name and birth date as a candidate to confirm) and assigned to the unit
  that verifies each child; the people told, the reminders planned;
- ``work``: the disposition of each child with the evidence the profile names, reviewed by
  the township as a closing is; 确属失学辍学 opens a ladder case at once;
- ``progress``: how far each unit is, for the digests; ``export``: the list written back in
  the province's columns; ``sample``: the quarterly re-check, a round drawn from our cases;
- ``categories``: the national disposition categories.
"""
