"""The store: the one way anything writes jobs, attempts, events and notices.

Each module holds the named operations for one noun or one actor (a claim, an attempt,
a notice, a person's request); nothing outside this package issues an INSERT or UPDATE
on those tables. Status changes go through `lifecycle.transition`, a compare-and-set
that records its event (and notice) in the same transaction.
"""
