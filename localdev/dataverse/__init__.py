"""Entra ID + Dataverse Web API simulator (HTTPS on loopback) for local development and tests."""

from localdev.dataverse.simulator import DataverseSimulator

__all__ = ["DataverseSimulator"]
