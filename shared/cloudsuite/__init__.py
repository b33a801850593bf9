"""Infor CloudSuite (M3, CSI, LN, FSM) through the ION API gateway: .ionapi, tokens, transport, one client.

Entry point: ``CloudSuiteClient`` (client.py); typed connection config: ``CloudSuiteConfig`` (config.py).
"""

from shared.cloudsuite.client import CloudSuiteClient
from shared.cloudsuite.config import CloudSuiteConfig
from shared.cloudsuite.ionapi import IonApi, parse_ionapi
from shared.cloudsuite.page import Page

__all__ = ["CloudSuiteClient", "CloudSuiteConfig", "IonApi", "Page", "parse_ionapi"]
