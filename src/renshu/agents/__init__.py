"""Agents: one file per algorithm family (dqn.py: DQN with Double/Dueling/PER/n-step options)."""
