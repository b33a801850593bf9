"""Unit tests: token expiry arithmetic (pure, exact values)."""

from __future__ import annotations

from shared.cloudsuite.auth import Token, TokenPolicy


def test_default_lifetime_refreshes_at_three_quarters_and_never_in_the_last_minute() -> None:
    policy = TokenPolicy(refresh_share=0.75, safety_margin_s=60, margin_max_share=0.1)
    token = Token("t", expires_in=7200, obtained_at=1000.0)
    assert token.refresh_from(policy) == 1000 + 5400
    assert token.usable_until(policy) == 1000 + 7140
    assert not token.needs_refresh(6399.9, policy)
    assert token.needs_refresh(6400.0, policy)
    assert token.usable(8139.9, policy) and not token.usable(8140.0, policy)


def test_short_lifetime_caps_the_margin_so_the_token_stays_usable() -> None:
    policy = TokenPolicy(refresh_share=1.0, safety_margin_s=60, margin_max_share=0.1)
    token = Token("t", expires_in=10, obtained_at=0.0)
    assert token.usable_until(policy) == 9.0
    assert token.refresh_from(policy) == 9.0  # never later than the last usable moment


def test_refresh_share_one_means_refresh_only_at_the_margin() -> None:
    policy = TokenPolicy(refresh_share=1.0, safety_margin_s=60, margin_max_share=0.1)
    token = Token("t", expires_in=3600, obtained_at=0.0)
    assert token.refresh_from(policy) == 3540
