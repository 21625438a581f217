"""``p2c reconcile``: both systems read through their APIs, the flows' own logic applied, every difference listed.

``run`` drives it; ``sources`` reads the source systems as the sources do, ``expected`` works out the flows'
writes with their own code, ``targets`` reads the target tables, ``compare`` says what differs, ``spill``
keeps it all on disk.
"""
