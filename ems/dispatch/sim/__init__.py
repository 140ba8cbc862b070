"""The simulation behind ``ems simulate``: policy A (today's practice) against policy B
(this system), lever by lever, over seeded replications.

``model`` holds the scaled region, the incident stream and one policy run; ``stats``
the intervals; ``report`` the replications, the ablation and the text, JSON and plot.
"""
