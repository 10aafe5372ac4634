"""Analyses built on explainers: method agreement, input perturbations, sanity checks, ...

Each analysis lives in its own module; widgets call these functions and never
compute numbers themselves.
"""
