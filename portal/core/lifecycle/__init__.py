"""Data that stays true and goes away on time: freshness, dormancy, retention (GDPR Art. 5).

policy.py   the group's settings, their preview and audited changes
activity.py what counts as the person doing something, computed in SQL
rules.py    each rule: who it applies to now, and what it does to one subject
run.py      `flask lifecycle run`: every rule, in batches, once, safe in parallel
answers.py  what a person's answer to a reminder does; a subject's relationship
models.py   the group's policy, and the notices sent to each subject
"""
