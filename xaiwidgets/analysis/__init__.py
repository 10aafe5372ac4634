"""Analyses built on explainers: sanity checks, similarity metrics, audits."""
