"""The training spine every algorithm shares.

An algorithm file (``renshu/agents/<name>.py``) holds its config, networks, acting and update;
everything else a training run needs lives here, once:

- :mod:`renshu.train.loop`: stepping vector envs in both Gymnasium autoreset modes, final
  observations, frame windows, episode bookkeeping and keras-rl step logs, the env's faults,
  signals, training segments and their seeds.
- :mod:`renshu.train.evaluate`: the one ``test()`` loop (greedy play, step caps, rendering).
- :mod:`renshu.train.state`: the whole training state to and from a checkpoint (networks,
  optimizer, counters, RNG), checked on load.
- :mod:`renshu.train.agent`: :class:`~renshu.train.agent.Agent`, the contract an algorithm fills
  in (``_explore``, ``_learn``, ``_greedy``, ...) and the public methods built on it (``fit``,
  ``test``, ``act``, ``save``, ``set_env``, ...).
- :mod:`renshu.train.protocol`: what callbacks, runs and videos may use of an agent.
"""
