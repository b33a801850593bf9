"""Faithful ION API gateway + Infor CloudSuite (M3, CSI, LN, FSM) simulator on loopback HTTPS. See README.md."""

from localdev.cloudsuite.simulator import CloudSuiteSimulator

__all__ = ["CloudSuiteSimulator"]
