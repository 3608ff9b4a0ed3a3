"""Work on Ray: A3C's workers and learner, many seeds of one run, and sweeps (Ray Tune).

Ray is the ``ray`` extra (``pip install 'renshu[ray]'``). Only this package imports it, and only
when a command asks for it; everything else in renshu works without it. :mod:`.cluster` starts
or joins Ray (a local Ray by default, a running cluster with ``address``) and turns what Ray
raises on bad input into one clear :class:`~renshu.errors.ConfigError`.
"""
